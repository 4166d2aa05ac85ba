-- The SIM channel, worker callbacks (internal: not granted to anyone): what
-- the background worker calls when the SMSC accepted a request
-- (mobisign._mark_submitted), when sending failed for good
-- (mobisign._mark_failed), and to expire open transactions (mobisign._expire).

-- The queue rows were sent: the SMSC accepted every segment of each.  The
-- worker records all the requests accepted in one turn with one call
-- (worker/queue.c): transaction_ids in the order the requests finished,
-- message_ids the SMSC's ids of all their segments one after the other,
-- segments how many of those belong to each request.  For each request:
-- one audit row transaction.submitted (in the batch's order) with the
-- SMSC's message ids of its own segments, its transaction becomes
-- submitted if it is still queued, and its queue row is done with its
-- message ids.  A transaction no longer queued (its answer overtook the
-- SMSC's submit_sm_resp, or a cancel or the expiry came first) keeps its
-- state, and its audit row names that state (detail "state"): the message
-- ids are recorded all the same, since the audit is the one place they
-- are kept (the queue row of a final transaction goes in mobisign._finish)
-- and an SMSC's records are matched to transactions by them.  One
-- statement per step for the whole batch; the worker falls back to one
-- call per request when a batch fails, so a bad row only loses itself.
-- Returns how many became submitted, or -1 when another session holds one
-- of the batch's transaction or queue rows: nothing is done, and the
-- worker records each request alone (mobisign._mark_submitted, which
-- waits for its own row only).  The batch never waits for a row lock: a
-- verifier finishing one of these transactions (its SIM answered before
-- the worker read the SMSC's submit_sm_resp) holds that row until its own
-- batch commits, and meanwhile waits for the rows of its next answers; a
-- batch holding some of those while waiting for the verifier's was a
-- deadlock, and the link stood still for deadlock_timeout (seen at a
-- 20,000-SIM peak).
CREATE FUNCTION mobisign._mark_submitted_batch(transaction_ids uuid[], message_ids text[],
                                               segments integer[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids    uuid[];
    v_app    text[];
    v_detail jsonb[];
    v_submitted integer;
BEGIN
    IF pg_catalog.cardinality(transaction_ids) IS DISTINCT FROM pg_catalog.cardinality(_mark_submitted_batch.segments)
       OR (SELECT coalesce(pg_catalog.sum(s.n), 0) FROM pg_catalog.unnest(_mark_submitted_batch.segments) s(n))
          IS DISTINCT FROM pg_catalog.cardinality(message_ids)::bigint
       OR 0 > ANY (_mark_submitted_batch.segments) THEN
        RAISE EXCEPTION 'every request needs its number of segments, and they must add up to the message ids'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- lock order everywhere: transaction row, then queue row (here: the
    -- batch's transaction rows, then its queue rows), none waited for
    BEGIN
        PERFORM FROM mobisign.transaction tr WHERE tr.id = ANY (transaction_ids)
         ORDER BY tr.id FOR UPDATE NOWAIT;
        PERFORM FROM mobisign.request_queue q WHERE q.transaction_id = ANY (transaction_ids)
         ORDER BY q.transaction_id FOR UPDATE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RETURN -1;
    END;
    -- the rows are locked, so the states read here are the ones the
    -- UPDATE sees: every transaction of the batch is in exactly one of s, o
    WITH j AS (
        SELECT u.id, u.ord, message_ids[u.skip + 1 : u.skip + u.nseg] AS mids
          FROM (SELECT w.id, w.ord, w.nseg, pg_catalog.sum(w.nseg) OVER (ORDER BY w.ord) - w.nseg AS skip
                  FROM unnest(transaction_ids, _mark_submitted_batch.segments) WITH ORDINALITY AS w(id, nseg, ord)) u
    ), s AS (
        UPDATE mobisign.transaction tr SET state = 'submitted', submitted_at = pg_catalog.now()
          FROM j
         WHERE tr.id = j.id AND tr.state = 'queued'
        RETURNING tr.id, tr.msisdn, tr.application, j.mids, j.ord, NULL::text AS state
    ), o AS (
        SELECT tr.id, tr.msisdn, tr.application, j.mids, j.ord, tr.state
          FROM mobisign.transaction tr JOIN j ON tr.id = j.id
         WHERE tr.state <> 'queued'
    ), r AS (
        SELECT * FROM s UNION ALL SELECT * FROM o
    )
    SELECT pg_catalog.array_agg(r.id ORDER BY r.ord), pg_catalog.array_agg(r.application ORDER BY r.ord),
           pg_catalog.array_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
               'msisdn', r.msisdn, 'message_ids', r.mids, 'state', r.state)) ORDER BY r.ord),
           pg_catalog.count(*) FILTER (WHERE r.state IS NULL)
      INTO v_ids, v_app, v_detail, v_submitted
      FROM r;
    UPDATE mobisign.request_queue q
       SET smsc_message_ids = message_ids[u.skip + 1 : u.skip + u.nseg], done = true,
           lease_until = NULL, last_error = NULL
      FROM (SELECT w.id, w.nseg, pg_catalog.sum(w.nseg) OVER (ORDER BY w.ord) - w.nseg AS skip
              FROM unnest(transaction_ids, _mark_submitted_batch.segments) WITH ORDINALITY AS w(id, nseg, ord)) u
     WHERE q.transaction_id = u.id;
    FOR i IN 1 .. coalesce(pg_catalog.cardinality(v_ids), 0) LOOP
        PERFORM mobisign.audit_log('transaction.submitted', 'success', v_detail[i], v_ids[i], v_app[i]);
    END LOOP;
    RETURN v_submitted;
END
$$;

-- One request sent (the SMSC accepted every segment): the batch of one,
-- what the worker falls back to when a batch fails or meets a held row.
-- It waits for its own rows, so the batch of one never returns -1; the
-- worker calls it in a transaction of its own (worker/queue.c), so that
-- holding no other row it cannot be part of a deadlock cycle with a
-- verifier.
CREATE FUNCTION mobisign._mark_submitted(transaction_id uuid, message_ids text[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM FROM mobisign.transaction tr WHERE tr.id = $1 FOR UPDATE;
    PERFORM FROM mobisign.request_queue q WHERE q.transaction_id = $1 FOR UPDATE;
    RETURN mobisign._mark_submitted_batch(ARRAY[$1], coalesce($2, '{}'),
                                          ARRAY[coalesce(pg_catalog.cardinality($2), 0)]) = 1;
END
$$;

-- Sending failed for good (SMSC refused, delivery failed...): final state.
CREATE FUNCTION mobisign._mark_failed(transaction_id uuid, status integer, reason text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- a status that is not a final one is reported as 900
    p_status integer := coalesce(_mark_failed.status, 900);
BEGIN
    IF NOT EXISTS (SELECT FROM mobisign.status_code s WHERE s.code = p_status AND s.final) THEN
        p_status := 900;
    END IF;
    RETURN mobisign._finish(_mark_failed.transaction_id, 'failed', p_status, _mark_failed.reason,
        pg_catalog.jsonb_build_object('by', 'worker'));
END
$$;

-- Open transactions past expires_at become expired (208). Batch-limited:
-- call again while it returns the batch size.
CREATE FUNCTION mobisign._expire(batch integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN SELECT tr.id FROM mobisign.transaction tr
              WHERE mobisign._is_open(tr.state)
                AND tr.expires_at <= pg_catalog.now()
              ORDER BY tr.expires_at
              LIMIT batch
              FOR UPDATE SKIP LOCKED
    LOOP
        IF mobisign._finish(r.id, 'expired', 208, 'no answer before the transaction expired') THEN
            n := n + 1;
        END IF;
    END LOOP;
    -- segments of a concatenated answer that never completed (and no
    -- longer can: see mobisign._process_inbound)
    UPDATE mobisign.inbound_segment s SET processed = true
     WHERE NOT s.processed AND s.received_at < pg_catalog.now() - mobisign._segment_window();
    RETURN n;
END
$$;

-- Housekeeping of the queue under churn (worker/queue.c, every
-- mobisign.worker_housekeeping_interval): the queue rows of final
-- transactions are removed, at most batch per call (the worker calls again
-- while batches come back full), so that the queue holds open work only and
-- its dead rows stay few enough for autovacuum to keep up.  A row sent more
-- than once (attempts > 1) is kept: mobisign._answer_is_duplicate_delivery
-- needs it to recognise a late second copy of the answer; it goes with its
-- transaction (mobisign_purge, ON DELETE CASCADE).  A row sent at most
-- once goes in mobisign._finish, where its transaction becomes final, so
-- this finds only rows closed unsent whose transaction was final before
-- that (a dump of an older version restored).  Returns the rows removed.
CREATE FUNCTION mobisign._queue_cleanup(batch integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
        RAISE EXCEPTION 'batch must be between 1 and 100000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- request_queue_finished holds exactly the candidates, each looked up
    -- in the transaction by its key (a subquery, not a join: no plan ever
    -- reads the whole transaction table); a row the worker or an answer
    -- holds is skipped, not waited for
    WITH doomed AS (
        SELECT q.transaction_id FROM mobisign.request_queue q
         WHERE q.done AND q.attempts <= 1 AND q.smsc_message_ids IS NULL
           AND NOT mobisign._is_open((SELECT tr.state FROM mobisign.transaction tr
                                       WHERE tr.id = q.transaction_id))
         LIMIT batch
         FOR UPDATE OF q SKIP LOCKED)
    DELETE FROM mobisign.request_queue q USING doomed
     WHERE q.transaction_id = doomed.transaction_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Internals to nobody
REVOKE ALL ON FUNCTION
    mobisign._mark_submitted(uuid, text[]), mobisign._mark_submitted_batch(uuid[], text[], integer[]),
    mobisign._mark_failed(uuid, integer, text),
    mobisign._expire(integer), mobisign._queue_cleanup(integer)
FROM PUBLIC;
