CREATE TYPE st AS ENUM ('a', 'c');
