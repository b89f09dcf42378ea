CREATE TEXT SEARCH DICTIONARY english_stop (TEMPLATE = pg_catalog.simple, STOPWORDS = english, ACCEPT = false);
CREATE TEXT SEARCH CONFIGURATION notes_search (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION notes_search ALTER MAPPING FOR asciiword WITH english_stop, english_stem;
