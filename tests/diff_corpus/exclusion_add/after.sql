CREATE TABLE booking (id int PRIMARY KEY, during tstzrange NOT NULL, EXCLUDE USING gist (during WITH &&));
