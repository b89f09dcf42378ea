CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, active boolean NOT NULL DEFAULT true, created_at timestamptz NOT NULL DEFAULT now());
