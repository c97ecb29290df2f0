#!/usr/bin/env bash
# Runs once, when the postgres volume is first created: a separate database and owner for the
# risk store, apart from Airflow's metadata database.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE ${RISK_DB_USER} LOGIN PASSWORD '${RISK_DB_PASSWORD}';
CREATE DATABASE risk OWNER ${RISK_DB_USER};
SQL
