CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE VIEW big_items AS SELECT id, name FROM items WHERE qty > 100;
