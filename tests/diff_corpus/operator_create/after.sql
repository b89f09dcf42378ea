CREATE FUNCTION text_eq_ci(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT lower($1) = lower($2) $$;
CREATE OPERATOR === (LEFTARG = text, RIGHTARG = text, FUNCTION = text_eq_ci, COMMUTATOR = ===, RESTRICT = eqsel, JOIN = eqjoinsel);
CREATE VIEW same AS SELECT 'a' === 'A' AS same;
