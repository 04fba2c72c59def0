#!/bin/bash
# Run once by the postgres image on an empty data volume
# (/docker-entrypoint-initdb.d): one role and one database per service,
# each database owned by its role, as scripts/servers provisions locally.
# Passwords come from USER_DB_PASSWORD and ORDER_DB_PASSWORD.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v user_pw="$USER_DB_PASSWORD" -v order_pw="$ORDER_DB_PASSWORD" <<-'SQL'
	CREATE ROLE user_svc LOGIN PASSWORD :'user_pw';
	CREATE ROLE order_svc LOGIN PASSWORD :'order_pw';
	CREATE DATABASE user_db OWNER user_svc;
	CREATE DATABASE order_db OWNER order_svc;
	-- Each service sees only its own database.
	REVOKE CONNECT ON DATABASE user_db FROM PUBLIC;
	REVOKE CONNECT ON DATABASE order_db FROM PUBLIC;
SQL
