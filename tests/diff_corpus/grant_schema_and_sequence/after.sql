DO $$ BEGIN CREATE ROLE diff_app; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE diff_ro; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE SEQUENCE s;
GRANT USAGE ON SCHEMA public TO diff_app;
GRANT USAGE, SELECT ON SEQUENCE s TO diff_app;
