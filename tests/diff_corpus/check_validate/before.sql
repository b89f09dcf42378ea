CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;
