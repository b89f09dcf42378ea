CREATE TABLE places (id bigint PRIMARY KEY, city text, zip text);
