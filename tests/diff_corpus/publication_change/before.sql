CREATE TABLE accounts (id bigint PRIMARY KEY, email text);
CREATE TABLE audit (id bigint PRIMARY KEY);
CREATE PUBLICATION app_pub FOR TABLE accounts;
