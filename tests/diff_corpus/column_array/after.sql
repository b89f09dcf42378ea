CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, labels text[] NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now());
