CREATE TABLE accounts (id bigint PRIMARY KEY, email text, active boolean NOT NULL DEFAULT true);
CREATE PUBLICATION app_pub FOR TABLE accounts (id, email, active) WHERE (active) WITH (publish = 'insert');
