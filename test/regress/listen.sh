#!/usr/bin/env bash
# Run SQL in a session of its own that listens on channel mobisign, and
# print what that session sees: each statement's result and each
# notification, with what changes from run to run masked (the notifying
# backend's PID, transaction ids).  Used by the regression suites through a
# psql backtick (so the output lands in the expected file in order):
#
#   \set out `bash :'listen' :'sql'`
#   \echo :out
#
# SQL is one or more statements; the database is PGDATABASE (the suite
# passes its own); host, port and user come from the environment pg_regress
# sets.  Exit status: psql's.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 SQL" >&2; exit 2; }
"${PGBIN:-/usr/lib/postgresql/15/bin}/psql" -X -q -At -v ON_ERROR_STOP=1 \
	-c 'LISTEN mobisign' -c "$1" 2>&1 |
	sed -E -e 's/with PID [0-9]+/with PID <pid>/' \
		-e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<transaction id>/g'
