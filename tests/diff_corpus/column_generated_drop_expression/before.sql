CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, qty2 integer GENERATED ALWAYS AS (qty * 2) STORED, created_at timestamptz NOT NULL DEFAULT now());
