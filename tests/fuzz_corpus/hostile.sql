CREATE TABLE a (id int);
/* c */ COMMIT;
SAVEPOINT s; ROLLBACK TO s;
U&'d\0061t\+000061' ; B'101'; X'1F';
\copy t from 'x.csv'
