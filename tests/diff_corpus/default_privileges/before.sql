DO $$ BEGIN CREATE ROLE diff_app; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE diff_ro; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
