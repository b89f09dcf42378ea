CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE SEQUENCE invoice_no START 1000 INCREMENT 5 CACHE 10;
