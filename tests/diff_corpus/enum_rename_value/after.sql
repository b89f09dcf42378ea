CREATE TYPE st AS ENUM ('open', 'done');
CREATE TABLE t (id int, s st);
