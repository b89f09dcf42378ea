CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.x := 'a;b'; RETURN NEW; END $$;
CREATE FUNCTION g(a int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a + 1; SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END; END;
SELECT E'it\'s; fine', $tag$ ; $notag$ $tag$, "quoted;ident" /* nested /* ; */ still */ FROM t; -- trailing ; comment
