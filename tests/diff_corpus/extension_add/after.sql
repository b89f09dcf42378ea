CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX items_name_trgm ON items USING gin (name gin_trgm_ops);
