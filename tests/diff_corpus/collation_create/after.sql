CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE accounts (id bigint PRIMARY KEY, email text COLLATE case_insensitive);
