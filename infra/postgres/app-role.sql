-- The role and database the local clusters give applications (and Ferry's tests), in every DC
-- cluster. Run by psql as the superuser: by infra/services.sh on every `up`, and by the postgres
-- image's first start in docker-compose.yml. Idempotent. `app` is deliberately no superuser:
-- Ferry must run with the rights a managed PostgreSQL gives an application (DESIGN.md §2).
-- CREATEROLE (which Ferry never uses) lets tests make roles of their own: an application role
-- apart from Ferry's, and the least-privilege role of docs/operations.md.
-- It is not called `ferry`: with the default search_path ("$user", public) a role named like
-- Ferry's schema would create the application's tables inside schema ferry.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN
    CREATE ROLE app LOGIN PASSWORD 'app' CREATEDB;
  END IF;
END $$;
ALTER ROLE app CREATEROLE;
SELECT 'CREATE DATABASE ferry OWNER app'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ferry') \gexec
-- (a database made by an older version of this file may belong to another role)
ALTER DATABASE ferry OWNER TO app;
