CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, note text, created_at timestamptz NOT NULL DEFAULT now());
