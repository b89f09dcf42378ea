CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX items_name_key ON items (name);
