CREATE TABLE base (id int, note text);
