#!/bin/sh
# Postgres on 127.0.0.1:$PGPORT; database trading_signals; password auth over TCP,
# trust on the local socket so the runbook's `docker exec -it postgres psql -U postgres` works.
set -eu
: "${PGPORT:=5432}"
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo postgres >/tmp/pwfile
  su postgres -c "initdb -D '$PGDATA' -U postgres --encoding=UTF8 --locale=C.UTF-8 --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 >/dev/null"
  rm -f /tmp/pwfile
  su postgres -c "pg_ctl -D '$PGDATA' -o '-c listen_addresses= -p $PGPORT' -w start >/dev/null"
  su postgres -c "psql -q -p $PGPORT -c 'CREATE DATABASE trading_signals'"
  su postgres -c "pg_ctl -D '$PGDATA' -w stop >/dev/null"
fi
exec su postgres -c "exec postgres -D '$PGDATA' -c listen_addresses=127.0.0.1 -p $PGPORT -c max_connections=300 -c log_min_messages=warning"
