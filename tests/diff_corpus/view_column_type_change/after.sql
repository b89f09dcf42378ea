CREATE TABLE items (id bigint PRIMARY KEY, name varchar(200) NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE VIEW big_items AS SELECT id, name FROM items WHERE qty > 100;
