"""Shared helpers for the external suites (python3 standard library only).

The suites talk to the private cluster that test/run.sh started (PGHOST,
PGPORT, PGUSER in the environment) through psql, feeding SQL on stdin. Test
data is read from ../shared/testdata beside the repository and sent as bytes;
nothing is copied to disk, and the server never has to read the files.
"""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("MOBISIGN_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")


def psql(sql, db, timeout=1800):
    """Run SQL (a string) through psql; return stdout. Raises on any error."""
    env = dict(os.environ)
    env.setdefault("PGUSER", "postgres")
    proc = subprocess.run(
        [os.path.join(PGBIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db],
        input=sql.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        raise RuntimeError("psql failed (exit %d)" % proc.returncode)
    err = proc.stderr.decode(errors="replace").strip()
    if err:
        sys.stderr.write(err + "\n")
    return proc.stdout.decode()


def fresh_database(db):
    """Drop and create DB with the mobisign extension."""
    psql("SET client_min_messages = warning;\nDROP DATABASE IF EXISTS %s;\nCREATE DATABASE %s;\n" % (db, db), "postgres")
    psql("CREATE EXTENSION mobisign;\n", db)


def sql_bytea(data):
    """A bytea literal."""
    return "'\\x%s'::bytea" % data.hex()


def sql_text(s):
    return "'" + s.replace("'", "''") + "'"


def sql_text_array(items):
    if items is None:
        return "NULL::text[]"
    return "ARRAY[%s]::text[]" % ", ".join(sql_text(i) for i in items)
