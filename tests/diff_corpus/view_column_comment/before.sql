CREATE TABLE accounts (id bigint PRIMARY KEY, email text);
CREATE VIEW account_emails AS SELECT id, email FROM accounts;
