CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2), created_at timestamptz NOT NULL DEFAULT now());
