CREATE TYPE st AS ENUM ('a', 'c');
CREATE TABLE t (id int, s st);
CREATE VIEW open_t AS SELECT id FROM t WHERE s <> 'c';
