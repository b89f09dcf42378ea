-- migrate:no-transaction
-- migrate:lock-timeout 5s
CREATE INDEX CONCURRENTLY IF NOT EXISTS "Odd Name" ON s.t USING gin (to_tsvector('english', body));
-- migrate:down
DROP INDEX CONCURRENTLY IF EXISTS "Odd Name";
