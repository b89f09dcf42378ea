CREATE TABLE booking (id int PRIMARY KEY, during tstzrange);
CREATE INDEX booking_during_idx ON booking USING gist (during);
