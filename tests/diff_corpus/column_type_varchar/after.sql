CREATE TABLE items (id bigint PRIMARY KEY, name varchar(120) NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
