CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, qty2 integer GENERATED ALWAYS AS (qty * 3) STORED, created_at timestamptz NOT NULL DEFAULT now());
