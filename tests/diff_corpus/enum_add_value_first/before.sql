CREATE TYPE st AS ENUM ('b', 'c');
