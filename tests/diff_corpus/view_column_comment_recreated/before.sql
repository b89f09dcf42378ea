CREATE TABLE accounts (id bigint PRIMARY KEY, email text, name text);
CREATE VIEW account_emails AS SELECT id, email FROM accounts;
COMMENT ON COLUMN account_emails.email IS 'primary address';
