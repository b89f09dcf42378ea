CREATE TYPE st AS ENUM ('b', 'a');
CREATE TABLE t (id int, ss st[]);
