-- Read-only analyst role for the PostgreSQL risk store: SELECT on the analyst views (v_*) of the
-- current schema and nothing else: no table, no INSERT/UPDATE/DELETE, no DDL.
-- Run as the owner of the risk store after the schema exists (riskmodels creates it on first use):
--   psql "$RISK_DB" -c 'SET search_path TO public' -f sql/roles.sql
-- then give each analyst a login in the role:
--   CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE riskmodels_analyst;
-- Views run with their owner's rights, so the analyst needs no grant on the tables behind them.
DO $$
DECLARE
    s text := current_schema();
    v record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'riskmodels_analyst') THEN
        CREATE ROLE riskmodels_analyst NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO riskmodels_analyst', s);
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM riskmodels_analyst', s);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM riskmodels_analyst', s);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM riskmodels_analyst', s);
    FOR v IN SELECT table_name FROM information_schema.views
             WHERE table_schema = s AND table_name LIKE 'v\_%' LOOP
        EXECUTE format('GRANT SELECT ON %I.%I TO riskmodels_analyst', s, v.table_name);
    END LOOP;
END
$$;
