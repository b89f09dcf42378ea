CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, email citext, created_at timestamptz NOT NULL DEFAULT now());
