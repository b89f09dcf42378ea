CREATE TYPE st AS ENUM ('a', 'c');
CREATE TABLE t (id int, s st NOT NULL DEFAULT 'a');
