CREATE TYPE level AS ENUM ('low', 'high');
