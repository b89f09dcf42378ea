CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, legacy text, created_at timestamptz NOT NULL DEFAULT now());
