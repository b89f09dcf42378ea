CREATE TABLE t (v text, id bigserial);
