CREATE TYPE level AS ENUM ('low', 'high');
CREATE FUNCTION level_rank(level) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT CASE $1 WHEN 'low' THEN 1 ELSE 2 END $$;
CREATE CAST (level AS integer) WITH FUNCTION level_rank(level) AS ASSIGNMENT;
