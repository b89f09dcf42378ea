CREATE DOMAIN email AS text CONSTRAINT email_at CHECK (VALUE ~ '@');
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, contact email, created_at timestamptz NOT NULL DEFAULT now());
