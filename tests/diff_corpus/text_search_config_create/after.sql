CREATE TEXT SEARCH CONFIGURATION app_search (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION app_search DROP MAPPING FOR email, url;
CREATE TABLE docs (id bigint PRIMARY KEY, title text NOT NULL, search tsvector GENERATED ALWAYS AS (to_tsvector('app_search', title)) STORED);
