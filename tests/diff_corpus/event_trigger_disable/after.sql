CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER app_ddl ON ddl_command_end EXECUTE FUNCTION note_ddl();
ALTER EVENT TRIGGER app_ddl DISABLE;
