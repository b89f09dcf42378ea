CREATE TYPE st AS ENUM ('a', 'b', 'c');
CREATE TABLE t (id int, s st NOT NULL DEFAULT 'a');
