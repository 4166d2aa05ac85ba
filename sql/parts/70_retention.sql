-- Retention: finished transactions and audit rows are kept
-- until mobisign_purge() removes them, at most max_rows of each per call, so
-- that a large backlog goes in short transactions: call it until it returns
-- zeros.  The audit chain records every purge: the purge row names the last
-- removed chain position and its hash, which mobisign_audit_verify() uses as
-- the anchor of what remains.
--
-- Only mobisign_purger may purge (not mobisign_admin: an administrator must
-- not be able to erase the audit of their own changes), and never anything
-- younger than mobisign.min_retention (superuser-only, default 30 days).
CREATE FUNCTION mobisign_purge(older_than interval, max_rows integer DEFAULT 10000,
                               OUT transactions bigint, OUT audit_rows bigint)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff   timestamptz;
    last_seq bigint;
    anchor   bytea;
    v_min    interval := mobisign._min_retention();
BEGIN
    -- older_than as its duration (mobisign._duration): what the cutoff
    -- subtracts is what is checked against the minimum retention
    IF older_than IS NULL OR mobisign._duration(older_than) <= '0' THEN
        RAISE EXCEPTION 'older_than must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF mobisign._duration(older_than) < v_min THEN
        RAISE EXCEPTION 'older_than must be at least the minimum retention, %', v_min
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('older_than is %s; mobisign.min_retention is %s.', older_than, v_min),
                  HINT = 'Transactions and audit rows are kept at least mobisign.min_retention; only a superuser can change it.';
    END IF;
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := pg_catalog.now() - mobisign._duration(older_than);

    -- finished transactions (their queue rows go with them)
    WITH doomed AS (
        SELECT t.id FROM mobisign.transaction t
         WHERE t.completed_at < cutoff
         ORDER BY t.completed_at LIMIT max_rows
         FOR UPDATE SKIP LOCKED)
    DELETE FROM mobisign.transaction t USING doomed WHERE t.id = doomed.id;
    GET DIAGNOSTICS transactions = ROW_COUNT;
    DELETE FROM mobisign.inbound_segment s WHERE s.processed AND s.received_at < cutoff;

    -- audit: only a prefix of the sealed chain, so that what remains stays
    -- one unbroken chain from the purge anchor on
    PERFORM mobisign.audit_seal();
    PERFORM FROM mobisign.process_lock l WHERE l.name = 'audit_seal' AND l.slot = 0
       FOR NO KEY UPDATE;
    SELECT max(p.chain_seq) INTO last_seq
      FROM (SELECT a.chain_seq, a.at FROM mobisign.audit a
             WHERE a.chain_seq IS NOT NULL ORDER BY a.chain_seq LIMIT max_rows) p
     WHERE p.chain_seq < coalesce((SELECT min(a.chain_seq) FROM mobisign.audit a
                                    WHERE a.chain_seq IS NOT NULL AND a.at >= cutoff),
                                  9223372036854775807);
    audit_rows := 0;
    IF last_seq IS NOT NULL THEN
        SELECT a.hash INTO anchor FROM mobisign.audit a WHERE a.chain_seq = last_seq;
        PERFORM pg_catalog.set_config('mobisign_audit.purging', 'on', true);
        DELETE FROM mobisign.audit a WHERE a.chain_seq <= last_seq;
        GET DIAGNOSTICS audit_rows = ROW_COUNT;
        PERFORM pg_catalog.set_config('mobisign_audit.purging', 'off', true);
    END IF;
    IF transactions > 0 OR audit_rows > 0 THEN
        PERFORM mobisign.audit_log('purge', 'ok', pg_catalog.jsonb_build_object(
            'older_than', older_than, 'min_retention', v_min, 'cutoff', cutoff, 'transactions', transactions,
            'audit_rows', audit_rows, 'purged_through_seq', last_seq,
            'anchor_hash', pg_catalog.encode(anchor, 'hex')));
    END IF;
END
$$;
COMMENT ON FUNCTION mobisign_purge(interval, integer)
    IS 'removes finished transactions and the oldest audit rows older than older_than, at most max_rows of each per call; the audit chain records the purge';

GRANT EXECUTE ON FUNCTION mobisign_purge(interval, integer) TO mobisign_purger;
