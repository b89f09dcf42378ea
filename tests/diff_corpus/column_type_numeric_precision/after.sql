CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price numeric(14,4), created_at timestamptz NOT NULL DEFAULT now());
