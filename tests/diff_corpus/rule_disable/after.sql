CREATE TABLE audit (id bigint PRIMARY KEY, note text);
CREATE RULE audit_keep AS ON DELETE TO audit DO INSTEAD NOTHING;
ALTER TABLE audit DISABLE RULE audit_keep;
