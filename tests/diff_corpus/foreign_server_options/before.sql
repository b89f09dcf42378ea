CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER remote VERSION '15' FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.internal', dbname 'app');
