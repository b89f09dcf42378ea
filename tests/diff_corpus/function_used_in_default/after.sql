CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION next_qty() RETURNS int LANGUAGE sql AS $$ SELECT 7 $$;
ALTER TABLE items ALTER COLUMN qty SET DEFAULT next_qty();
