-- The background worker's counters (docs/worker.md), read from shared
-- memory. Needs shared_preload_libraries = 'mobisign' (otherwise the
-- function raises an error with that hint). See docs/worker.md.
CREATE FUNCTION mobisign._worker_stats(
    OUT pid integer, OUT state text, OUT bound boolean,
    OUT links_configured integer, OUT links_bound integer,
    OUT window_in_use integer, OUT window_size integer,
    OUT submitted bigint, OUT received bigint, OUT retried bigint,
    OUT errors bigint, OUT reconnects bigint, OUT completed bigint,
    OUT wakeups bigint, OUT ack_wait_us bigint, OUT batch_fallbacks bigint,
    OUT last_error_at timestamptz, OUT last_error text,
    OUT started_at timestamptz)
RETURNS record
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ms_worker_stats';

-- One row per session (bind) of every link the worker has open, with its
-- counters since the worker opened the link (docs/worker.md).
CREATE FUNCTION mobisign._worker_binds(
    OUT smsc_id integer, OUT link text, OUT bind integer, OUT binds integer,
    OUT state text, OUT bound_since timestamptz,
    OUT window_in_use integer, OUT window_size integer, OUT max_per_second integer,
    OUT sent bigint, OUT acknowledged bigint, OUT throttled bigint,
    OUT errors bigint, OUT received bigint, OUT reconnects bigint)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ms_worker_binds';

CREATE VIEW mobisign.worker_binds AS
    SELECT b.smsc_id, b.link, b.bind, b.binds, b.state, b.bound_since,
           b.window_in_use, b.window_size, b.max_per_second, b.sent,
           b.acknowledged, b.throttled, b.errors, b.received, b.reconnects
      FROM mobisign._worker_binds() b;

COMMENT ON VIEW mobisign.worker_binds IS
    'one row per SMPP session (bind) of every open SMSC link: state, window in use, and counters since the worker opened the link (sent, acknowledged = answered ESME_ROK, throttled, errors, received deliver_sm, reconnects)';

-- The same per link: binds up, the window over every bind, the sums.
CREATE VIEW mobisign.worker_links AS
    SELECT b.smsc_id, b.link, max(b.binds) AS binds,
           count(*) FILTER (WHERE b.state = 'bound')::integer AS binds_bound,
           sum(b.window_in_use)::integer AS window_in_use,
           sum(b.window_size)::integer AS window_size,
           sum(b.max_per_second)::integer AS max_per_second,
           sum(b.sent)::bigint AS sent, sum(b.acknowledged)::bigint AS acknowledged,
           sum(b.throttled)::bigint AS throttled, sum(b.errors)::bigint AS errors,
           sum(b.received)::bigint AS received, sum(b.reconnects)::bigint AS reconnects
      FROM mobisign._worker_binds() b
     GROUP BY b.smsc_id, b.link;

COMMENT ON VIEW mobisign.worker_links IS
    'mobisign.worker_binds per SMSC link: binds configured and bound, window and rate over every bind, summed counters';

CREATE VIEW mobisign.worker_stats AS
    SELECT s.pid, s.state, s.bound, s.links_configured, s.links_bound,
           s.window_in_use, s.window_size, s.submitted, s.received, s.retried,
           s.errors, s.reconnects, s.completed, s.wakeups, s.ack_wait_us, s.batch_fallbacks,
           s.last_error_at,
           s.last_error, s.started_at,
           (SELECT count(*) FROM mobisign._worker_binds())::integer AS binds_configured,
           (SELECT count(*) FROM mobisign._worker_binds() b WHERE b.state = 'bound')::integer AS binds_bound
      FROM mobisign._worker_stats() s;

COMMENT ON VIEW mobisign.worker_stats IS
    'the background worker: pid, state, SMPP links bound, send window in use, and counters since the server started (submitted = submit_sm answered OK, received = deliver_sm stored, retried, errors, reconnects, completed, wakeups; ack_wait_us = microseconds from reading each stored deliver_sm to acknowledging it, summed: divide by received for the mean; batch_fallbacks = batches of submitted requests that met a row held by another session, e.g. a verifier finishing the transaction, and were recorded one request at a time)';

-- Functions used in a view are checked against the querying role.
REVOKE ALL ON FUNCTION mobisign._worker_stats(), mobisign._worker_binds() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mobisign._worker_stats(), mobisign._worker_binds()
    TO mobisign_admin, mobisign_auditor;
REVOKE ALL ON mobisign.worker_stats, mobisign.worker_binds, mobisign.worker_links FROM PUBLIC;
GRANT SELECT ON mobisign.worker_stats, mobisign.worker_binds, mobisign.worker_links
    TO mobisign_admin, mobisign_auditor;
