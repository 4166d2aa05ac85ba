-- The background worker's counters (docs/worker.md), read from shared
-- memory. Needs shared_preload_libraries = 'mobisign' (otherwise the
-- function raises an error with that hint). See docs/worker.md.
CREATE FUNCTION mobisign._worker_stats(
    OUT pid integer, OUT state text, OUT bound boolean,
    OUT links_configured integer, OUT links_bound integer,
    OUT window_in_use integer, OUT window_size integer,
    OUT submitted bigint, OUT received bigint, OUT retried bigint,
    OUT errors bigint, OUT reconnects bigint, OUT completed bigint,
    OUT wakeups bigint, OUT last_error_at timestamptz, OUT last_error text,
    OUT started_at timestamptz)
RETURNS record
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ms_worker_stats';

CREATE VIEW mobisign.worker_stats AS
    SELECT s.pid, s.state, s.bound, s.links_configured, s.links_bound,
           s.window_in_use, s.window_size, s.submitted, s.received, s.retried,
           s.errors, s.reconnects, s.completed, s.wakeups, s.last_error_at,
           s.last_error, s.started_at
      FROM mobisign._worker_stats() s;

COMMENT ON VIEW mobisign.worker_stats IS
    'the background worker: pid, state, SMPP links bound, send window in use, and counters since the server started (submitted = submit_sm answered OK, received = deliver_sm stored, retried, errors, reconnects)';

-- Functions used in a view are checked against the querying role.
REVOKE ALL ON FUNCTION mobisign._worker_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mobisign._worker_stats() TO mobisign_admin, mobisign_auditor;
REVOKE ALL ON mobisign.worker_stats FROM PUBLIC;
GRANT SELECT ON mobisign.worker_stats TO mobisign_admin, mobisign_auditor;
