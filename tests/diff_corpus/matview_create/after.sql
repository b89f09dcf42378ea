CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE MATERIALIZED VIEW item_totals AS SELECT name, sum(qty) AS total FROM items GROUP BY name;
CREATE UNIQUE INDEX item_totals_name ON item_totals (name);
