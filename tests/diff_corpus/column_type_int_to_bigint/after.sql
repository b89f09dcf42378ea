CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty bigint, created_at timestamptz NOT NULL DEFAULT now());
