DO $$ BEGIN CREATE ROLE diff_app; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE diff_ro; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE MATERIALIZED VIEW item_totals AS SELECT name, count(*) AS total FROM items GROUP BY name;
CREATE UNIQUE INDEX item_totals_name ON item_totals (name);
GRANT SELECT ON item_totals TO diff_ro;
