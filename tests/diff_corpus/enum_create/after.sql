CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty integer, mood mood NOT NULL DEFAULT 'ok', created_at timestamptz NOT NULL DEFAULT now());
