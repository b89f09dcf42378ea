CREATE TABLE accounts (id bigint PRIMARY KEY, email text, active boolean NOT NULL DEFAULT true);
