CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SERVER remote VERSION '16' FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db2.internal', port '5433');
