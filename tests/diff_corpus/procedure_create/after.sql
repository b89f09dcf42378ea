CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE PROCEDURE restock(p_id bigint, p_qty int) LANGUAGE sql AS $$ UPDATE items SET qty = qty + p_qty WHERE id = p_id $$;
