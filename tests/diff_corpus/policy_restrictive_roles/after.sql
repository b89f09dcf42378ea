DO $$ BEGIN CREATE ROLE diff_app; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE diff_ro; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_visible ON items FOR SELECT USING (qty > 0);
CREATE POLICY items_ro ON items AS RESTRICTIVE FOR UPDATE TO diff_app, diff_ro USING (true) WITH CHECK (qty < 1000);
