CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
