CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, doc jsonb, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX items_doc_idx ON items USING gin (doc jsonb_path_ops);
