CREATE TABLE audit (id bigint PRIMARY KEY, note text);
