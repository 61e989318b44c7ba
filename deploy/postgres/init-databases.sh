#!/usr/bin/env bash
# One database per service (no service reads another's): run once by the postgres image
# from /docker-entrypoint-initdb.d on an empty data directory. GONGHUI_DATABASES lists the
# names (docker-compose.yml sets it); a database that already exists is left alone.
set -euo pipefail

for database in ${GONGHUI_DATABASES:?set GONGHUI_DATABASES to the service names}; do
    if [[ ! "$database" =~ ^[a-z][a-z0-9_]*$ ]]; then
        echo "refusing database name '$database': lower-case letters, digits, _ only" >&2
        exit 1
    fi
    exists=$(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")
    if [[ "$exists" == "1" ]]; then
        echo "database $database exists"
        continue
    fi
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -c "CREATE DATABASE \"$database\" OWNER \"$POSTGRES_USER\""
    echo "database $database created"
done
