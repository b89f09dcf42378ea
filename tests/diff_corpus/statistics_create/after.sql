CREATE TABLE places (id bigint PRIMARY KEY, city text, zip text);
CREATE STATISTICS places_city_zip (dependencies, ndistinct) ON city, zip FROM places;
ALTER STATISTICS places_city_zip SET STATISTICS 500;
