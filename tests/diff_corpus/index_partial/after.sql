CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX items_open_idx ON items (created_at) WHERE qty > 0;
