CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now()) WITH (fillfactor = 70);
