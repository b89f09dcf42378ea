CREATE TABLE "user" (id int PRIMARY KEY, "order" int, "Mixed Case" text, "select" boolean DEFAULT true);
