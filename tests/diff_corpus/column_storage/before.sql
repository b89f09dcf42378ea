CREATE TABLE docs (id bigint PRIMARY KEY, body text, n numeric);
