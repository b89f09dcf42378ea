CREATE TYPE st AS ENUM ('todo', 'done');
CREATE TABLE t (id int, s st);
