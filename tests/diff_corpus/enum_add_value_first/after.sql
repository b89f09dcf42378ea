CREATE TYPE st AS ENUM ('a', 'b', 'c');
