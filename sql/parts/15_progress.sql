-- Progress of long work (extension/progress.c): mobisign_audit_verify() and
-- mobisign_rewrap_keys() send their caller a NOTICE at most every
-- mobisign.progress_interval, and
-- every session's command in progress is a row of mobisign.progress, as
-- PostgreSQL's pg_stat_progress_* views show theirs.  A row lasts until the
-- end of the transaction that began the command, in its phase 'done' once
-- finished.

-- Begin the session's command (or go on with it) in a phase; total NULL
-- when not known.
CREATE FUNCTION mobisign._progress_phase(command text, phase text, total bigint,
                                         done bigint DEFAULT 0)
RETURNS void
AS 'MODULE_PATHNAME', 'ms_progress_phase_sql'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

-- n more rows of the phase done (a PL/pgSQL loop's step)
CREATE FUNCTION mobisign._progress_advance(n bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'ms_progress_advance_sql'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION mobisign._progress(OUT pid integer, OUT database oid, OUT role oid,
                                   OUT command text, OUT phase text,
                                   OUT started_at timestamptz, OUT updated_at timestamptz,
                                   OUT rows_done bigint, OUT rows_total bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ms_progress_sql'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE VIEW mobisign.progress AS
    SELECT p.pid, d.datname AS database, r.rolname AS role, p.command, p.phase,
           p.started_at, p.updated_at, p.rows_done, p.rows_total,
           CASE WHEN p.rows_total > 0
                THEN pg_catalog.round(100.0 * LEAST(p.rows_done, p.rows_total) / p.rows_total, 1)
           END AS percent
      FROM mobisign._progress() p
      LEFT JOIN pg_catalog.pg_database d ON d.oid = p.database
      LEFT JOIN pg_catalog.pg_roles r ON r.oid = p.role;
COMMENT ON VIEW mobisign.progress IS
    'long work in progress in every session (mobisign_audit_verify(): sealing, checking, done; mobisign_rewrap_keys(): rewrapping, done), until the end of its transaction';
