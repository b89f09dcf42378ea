CREATE TABLE notes (id bigint PRIMARY KEY, body text);
CREATE TEXT SEARCH DICTIONARY english_stop (TEMPLATE = pg_catalog.simple, STOPWORDS = english, ACCEPT = false);
CREATE TEXT SEARCH CONFIGURATION notes_search (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION notes_search ALTER MAPPING FOR asciiword WITH english_stop, english_stem;
CREATE INDEX notes_body_fts ON notes USING gin (to_tsvector('public.notes_search'::regconfig, coalesce(body, '')));
