DO $$ BEGIN CREATE ROLE diff_owner; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE TABLE items (id bigint PRIMARY KEY, name text);
CREATE FUNCTION item_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM items $$;
