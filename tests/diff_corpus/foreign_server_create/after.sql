CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.internal', dbname 'app');
