CREATE TEXT SEARCH CONFIGURATION app_search (COPY = pg_catalog.simple);
