CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer DEFAULT 5, created_at timestamptz NOT NULL DEFAULT now());
