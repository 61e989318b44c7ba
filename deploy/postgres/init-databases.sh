#!/usr/bin/env bash
# One database per service, each owned by the service's own login role (no service has
# rights on another's tables, nor may connect to another's database): run once by the
# postgres image from /docker-entrypoint-initdb.d on an empty data directory.
# GONGHUI_DATABASES lists the names (docker-compose.yml sets it); a role's password is
# GONGHUI_DATABASE_PASSWORD (a developer machine's; Kubernetes gives each role its own,
# deploy/k8s/postgres.yaml). A role or database that already exists is left alone.
set -euo pipefail

password=${GONGHUI_DATABASE_PASSWORD:?set GONGHUI_DATABASE_PASSWORD}

sql() {
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" "$@"
}

for name in ${GONGHUI_DATABASES:?set GONGHUI_DATABASES to the service names}; do
    if [[ ! "$name" =~ ^[a-z][a-z0-9_]*$ ]]; then
        echo "refusing database name '$name': lower-case letters, digits, _ only" >&2
        exit 1
    fi
    if [[ "$(sql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$name'")" != "1" ]]; then
        # the password as a psql variable quoted by psql (:'password'; read from stdin,
        # as -c does not interpolate), never spliced into the SQL
        sql -v password="$password" >/dev/null <<< "CREATE ROLE \"$name\" LOGIN PASSWORD :'password'"
        echo "role $name created"
    fi
    if [[ "$(sql -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" == "1" ]]; then
        echo "database $name exists"
        continue
    fi
    sql -c "CREATE DATABASE \"$name\" OWNER \"$name\""
    sql -c "REVOKE ALL ON DATABASE \"$name\" FROM PUBLIC"
    echo "database $name created"
done
