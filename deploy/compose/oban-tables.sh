#!/bin/sh
# Postgres runs this once, when it creates the trial database: Oban's tables (v14) in `public`, so the
# fresh database looks like a Scrypath application's (the sandbox and the tests use the same fixture).
set -eu
sed 's/{{prefix}}/public/g' /oban/oban-v14.sql |
  psql -v ON_ERROR_STOP=1 --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB"
