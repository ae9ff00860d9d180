-- Plane's role: a non-superuser that owns its database and everything in it, with the stack's one
-- PostgreSQL password; the superuser logs in on the server's socket only (pg_hba.conf), with no
-- password. Run by a superuser over the socket: on a new volume by the image's entrypoint (this file
-- is in /docker-entrypoint-initdb.d), on an existing one by ensure-roles.sh. Idempotent.
-- Environment: PLANE_USER, POSTGRES_DB (Plane's database), POSTGRES_PASSWORD (Plane's password).
\set ON_ERROR_STOP on
\getenv plane_user PLANE_USER
\getenv plane_database POSTGRES_DB
\getenv plane_password POSTGRES_PASSWORD
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'plane_user') AS role_missing \gset
\if :role_missing
CREATE ROLE :"plane_user" LOGIN;
\endif
ALTER ROLE :"plane_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'plane_password';
ALTER ROLE CURRENT_USER PASSWORD NULL;
DROP ROLE IF EXISTS plane_k3s_rename;
ALTER DATABASE :"plane_database" OWNER TO :"plane_user";
\connect :"plane_database"
ALTER SCHEMA public OWNER TO :"plane_user";
SELECT set_config('plane_k3s.owner', :'plane_user', false) \gset
-- What an earlier superuser Plane made (tables, their sequences, views, functions, types) goes to the
-- new owner; a sequence owned by a column follows its table.
DO $$
DECLARE
  owner text := current_setting('plane_k3s.owner');
  item record;
BEGIN
  FOR item IN
    SELECT c.oid::regclass AS name,
           CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END AS kind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
      AND pg_get_userbyid(c.relowner) <> owner
      AND NOT (c.relkind = 'S' AND EXISTS (
        SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', item.kind, item.name, owner);
  END LOOP;
  FOR item IN
    SELECT p.oid::regprocedure AS name, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END AS kind
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> owner
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', item.kind, item.name, owner);
  END LOOP;
  FOR item IN
    SELECT t.oid::regtype AS name
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND t.typtype IN ('d', 'e', 'r') AND pg_get_userbyid(t.typowner) <> owner
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', item.name, owner);
  END LOOP;
END
$$;
