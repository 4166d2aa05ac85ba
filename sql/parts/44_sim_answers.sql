-- The SIM channel, answer handling (internal: not granted to anyone): the
-- received segments of one MSISDN are reassembled (mobisign._process_inbound,
-- called by the worker, within mobisign._segment_window), and each complete
-- answer is opened, checked and acted on (mobisign._handle_answer): proof of
-- receipt, replay, the applet's result, the signature.

-- Whether an answer that reached this stage of mobisign._open_response is
-- authentic (its cryptographic checksum verified with the SIM's keys).
-- The hot helpers of the answer path are PL/pgSQL, not SQL: a SQL function
-- that cannot be inlined (it has SET search_path) is parsed and planned
-- again in every subtransaction it is called in, and every answer is
-- handled in a subtransaction of its own; PL/pgSQL keeps its plans for the
-- session.
CREATE FUNCTION mobisign._answer_authentic(stage text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN coalesce(stage IN ('por', 'applet', 'ok'), false); END $$;

-- Open one answer (its SMS user data) with the MSISDN's key sets: the first
-- key set whose TAR it carries, else the last one tried (stage 'tar'); every
-- column NULL when the MSISDN has no key set.  p_keys: the MSISDN's key sets
-- in key-set order as the caller has read them (mobisign._handle_answer,
-- which holds them locked and acts with them: one read of the rows per
-- answer); NULL: read here.  One row, not a set, and _open_response's row
-- taken by assignment: each answer is opened without an executor of its own
-- for either (a function scan, and a tuplestore for a set).
CREATE FUNCTION mobisign._open_answer(p_msisdn text, p_segments bytea[],
                                      p_keys mobisign.sim_key[],
                                      OUT key_set integer, OUT stage text, OUT failure text,
                                      OUT counter bigint, OUT por_status integer,
                                      OUT reference bytea, OUT result integer,
                                      OUT result_name text, OUT cms bytea)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k mobisign.sim_key;
    o record;
BEGIN
    FOREACH k IN ARRAY coalesce(p_keys, ARRAY(SELECT s FROM mobisign.sim_key s
                                               WHERE s.msisdn = p_msisdn ORDER BY s.key_set))
    LOOP
        o := mobisign._open_response(p_msisdn, k.key_set, k.tar, k.kic_wrapped, k.kid_wrapped,
                                     p_segments);
        key_set := k.key_set;
        stage := o.stage;
        failure := o.failure;
        counter := o.counter;
        por_status := o.por_status;
        reference := o.reference;
        result := o.result;
        result_name := o.result_name;
        cms := o.cms;
        EXIT WHEN stage <> 'tar';
    END LOOP;
END
$$;

-- Act on one reassembled answer from a SIM; true when it was authentic.
-- Errors raised here are caught by mobisign._handle_answer_guarded.  Each
-- step is a function of its own (below, in the order they run); a step
-- that returns false (or no transaction) has audited why nothing more
-- happens.
CREATE FUNCTION mobisign._handle_answer(p_msisdn text, p_segments bytea[], p_segment_ids bigint[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k      mobisign.sim_key;
    v_keys mobisign.sim_key[];
    r      record;
    t      mobisign.transaction;
    o      record;
    v_base jsonb;     -- what every audit row of this answer says
BEGIN
    v_base := pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segments', pg_catalog.cardinality(p_segments),
                                            'segment_ids', to_jsonb(p_segment_ids));
    -- the MSISDN's key sets, locked and read once: the answer is opened
    -- with them, and the steps act with the one that opened it
    v_keys := ARRAY(SELECT s FROM mobisign.sim_key s WHERE s.msisdn = p_msisdn
                     ORDER BY s.key_set FOR UPDATE);
    r := mobisign._open_answer(p_msisdn, p_segments, v_keys);
    IF r.key_set IS NULL OR NOT mobisign._answer_authentic(r.stage) THEN
        PERFORM mobisign._answer_audit_unauthentic(v_base, r.stage, r.failure, r.por_status);
        RETURN false;
    END IF;
    FOREACH k IN ARRAY v_keys LOOP
        EXIT WHEN k.key_set = r.key_set;
    END LOOP;

    IF mobisign._answer_is_duplicate_delivery(k, r.stage, r.por_status, r.counter, r.failure, v_base) THEN
        RETURN true;
    END IF;
    IF NOT mobisign._answer_take_counter(k, r.counter, r.reference, v_base) THEN
        RETURN true;
    END IF;
    IF r.stage IN ('por', 'applet') THEN
        PERFORM mobisign._answer_sim_refusal(k, r.stage, r.failure, r.counter, r.por_status, v_base);
        RETURN true;
    END IF;
    t := mobisign._answer_transaction(k, r.counter, r.reference, r.result_name, length(r.cms), v_base);
    IF t.id IS NULL THEN
        RETURN true;
    END IF;
    o := mobisign._answer_outcome(t.kind, r.result);
    IF o.state IS NOT NULL THEN
        -- the applet result decides (extension/domain.h): a receipt shown
        -- completes (100: nothing is signed, the answer's CC made it
        -- authentic); 401 user cancel, 402 PIN blocked, 209 request
        -- signature refused or expired, 406 a result of another operation...
        PERFORM mobisign._finish(t.id, o.state, o.status,
            CASE WHEN o.state = 'completed' THEN 'the phone showed the receipt'
                 ELSE 'the SIM answered: ' || r.result_name END,
            pg_catalog.jsonb_build_object('result', r.result_name));
        RETURN true;
    END IF;
    PERFORM mobisign._answer_verify_signature(t, r.cms);
    RETURN true;
END
$$;

-- Step 1, for an answer that is not authentic (no cryptographic checksum
-- that verifies with the SIM's keys, or no key set at all): anyone who can
-- send an SMS with this MSISDN as its originator can forge it, e.g. an
-- unsecured PoR "CC failed".  It is audited and acts on nothing: no
-- transaction ends because of it (that would let a forged SMS cancel any
-- user's transaction); the open transaction still accepts its authentic
-- answer, or expires.
CREATE FUNCTION mobisign._answer_audit_unauthentic(p_base jsonb, p_stage text, p_failure text,
                                                   p_por_status integer)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM mobisign.audit_log('sim.answer', 'rejected',
        p_base || pg_catalog.jsonb_build_object('stage', coalesce(p_stage, 'no key set'),
            'reason', coalesce(p_failure, 'no SIM key set is registered for this MSISDN'),
            'por_status', p_por_status, 'acted', false));
END
$$;

-- Step 2: is this authentic answer a second copy?  A proof of receipt
-- "counter low" (status 02) for a request that was sent more than once
-- means the SIM got the same packet twice: the worker re-sends a request
-- whose first delivery it could not confirm (response timeout, dropped
-- link, crash) with the same counter.  The first copy's answer is the one
-- that counts: note the duplicate (true), act on nothing, and leave the
-- counter alone.  For a request sent once, "counter low" is the SIM's
-- refusal like any other status (step 4).
CREATE FUNCTION mobisign._answer_is_duplicate_delivery(k mobisign.sim_key, p_stage text,
                                                       p_por_status integer, p_counter bigint,
                                                       p_failure text, p_base jsonb)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- two IFs, not one condition: with its EXISTS in the same expression,
    -- the whole condition was planned again for every answer (a custom plan
    -- folds the stage test to false, so it always looked cheaper)
    IF p_stage IS DISTINCT FROM 'por' OR p_por_status IS DISTINCT FROM 2 THEN
        RETURN false;
    END IF;
    IF EXISTS (
           SELECT FROM mobisign.transaction tr JOIN mobisign.request_queue q ON q.transaction_id = tr.id
            WHERE tr.msisdn = k.msisdn AND tr.sim_key_set = k.key_set AND tr.counter = p_counter
              AND q.attempts > 1) THEN
        PERFORM mobisign.audit_log('sim.answer', 'duplicate delivery',
            p_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', p_counter,
                'por_status', p_por_status, 'reason', p_failure));
        RETURN true;
    END IF;
    RETURN false;
END
$$;

-- Step 3: the answer's counter must be higher than any accepted before
-- from this key set; it becomes the highest accepted (true), or the answer
-- is a replay (false, audited).
CREATE FUNCTION mobisign._answer_take_counter(k mobisign.sim_key, p_counter bigint,
                                              p_reference bytea, p_base jsonb)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_counter <= k.response_counter THEN
        PERFORM mobisign.audit_log('sim.answer', 'replay refused',
            p_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', p_counter,
                'highest_accepted', k.response_counter,
                'reference', pg_catalog.encode(p_reference, 'hex')));
        RETURN false;
    END IF;
    UPDATE mobisign.sim_key s SET response_counter = p_counter
     WHERE s.msisdn = k.msisdn AND s.key_set = k.key_set;
    RETURN true;
END
$$;

-- Step 4, for an authentic refusal: the SIM refused our packet (a proof of
-- receipt with a status other than 00: counter low or high, blocked,
-- security error...), or its answer is undecodable.  The request it
-- answers is the one sent with this counter, and it ends now (209) with the
-- status in its reason.  A "counter low" here (the request was sent once:
-- step 2 took the re-sent copies) means the SIM has accepted this counter
-- or a higher one before: the server's counter is behind the SIM's, as
-- after a failover to a standby that had not received the last commits.
-- The key set's counter jumps past the refused one (step 4b), so that the
-- application's next request is accepted.
CREATE FUNCTION mobisign._answer_sim_refusal(k mobisign.sim_key, p_stage text, p_failure text,
                                             p_counter bigint, p_por_status integer, p_base jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id     uuid;
    v_reason text := p_failure;
    v_moved  bigint;
BEGIN
    PERFORM mobisign.audit_log('sim.answer', 'rejected',
        p_base || pg_catalog.jsonb_build_object('stage', p_stage, 'reason', p_failure,
            'key_set', k.key_set, 'counter', p_counter, 'por_status', p_por_status));
    SELECT tr.id INTO v_id FROM mobisign.transaction tr
     WHERE tr.msisdn = k.msisdn AND tr.sim_key_set = k.key_set AND tr.counter = p_counter
       AND mobisign._is_open(tr.state)
     FOR UPDATE;
    IF FOUND THEN
        IF p_stage = 'por' AND p_por_status = 2 THEN
            v_moved := mobisign._counter_low_advance(k, p_counter, v_id);
            v_reason := v_reason || pg_catalog.format(
                '; the server''s counter was behind the SIM''s and moved to %s: a new request will be accepted',
                v_moved);
        END IF;
        PERFORM mobisign._finish(v_id, 'failed', 209, v_reason,
            pg_catalog.jsonb_build_object('stage', p_stage, 'por_status', p_por_status));
    END IF;
END
$$;

-- Step 4b: the key set's counter jumps to the refused counter plus
-- mobisign.counter_low_margin (saturating at 2^40-1), or stays where it is
-- if it is there already; audited (sim_key.advance / counter low).  Only an
-- authentic proof of receipt (its CC verified with the SIM's keys, its
-- counter above every counter accepted before) that names an open request
-- of ours gets here: a forged or unsecured one is never acted on (step 1),
-- a replayed one is refused (step 3), so the jump is bounded by one margin
-- per request the server really sent.  Returns the counter now stored.
CREATE FUNCTION mobisign._counter_low_advance(k mobisign.sim_key, p_counter bigint, p_transaction uuid)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m       bigint := mobisign._counter_low_margin();
    v_after bigint;
BEGIN
    UPDATE mobisign.sim_key s
       SET counter = GREATEST(s.counter, mobisign._counter_after_restore(p_counter, m))
     WHERE s.msisdn = k.msisdn AND s.key_set = k.key_set
    RETURNING s.counter INTO v_after;
    PERFORM mobisign.audit_log('sim_key.advance', 'counter low', pg_catalog.jsonb_build_object(
        'msisdn', k.msisdn, 'key_set', k.key_set, 'refused_counter', p_counter,
        'counter_before', k.counter, 'counter_after', v_after, 'counter_margin', m),
        p_transaction);
    RETURN v_after;
END
$$;

-- Step 5, for a well-formed applet response: the open transaction it
-- answers, locked, matched by reference (the SIM echoes the command's
-- counter: an answer made for another request, e.g. a fresh answer with an
-- old counter, does not match).  Audited either way: accepted, or ignored
-- (and NULL returned).
CREATE FUNCTION mobisign._answer_transaction(k mobisign.sim_key, p_counter bigint,
                                             p_reference bytea, p_result_name text,
                                             p_cms_bytes integer, p_base jsonb)
RETURNS mobisign.transaction
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t       mobisign.transaction;
    found_t boolean;
BEGIN
    SELECT * INTO t FROM mobisign.transaction tr WHERE tr.reference = p_reference FOR UPDATE;
    found_t := FOUND;
    IF NOT found_t OR t.msisdn <> k.msisdn OR NOT mobisign._is_open(t.state)
       OR t.sim_key_set IS DISTINCT FROM k.key_set OR t.counter IS DISTINCT FROM p_counter THEN
        PERFORM mobisign.audit_log('sim.answer', 'ignored',
            p_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', p_counter,
                'reference', pg_catalog.encode(p_reference, 'hex'), 'result', p_result_name,
                'reason', CASE WHEN NOT found_t THEN 'unknown transaction reference'
                               WHEN t.msisdn <> k.msisdn THEN 'the reference belongs to another SIM'
                               WHEN NOT mobisign._is_open(t.state)
                                    THEN 'the transaction is already ' || t.state
                               ELSE pg_catalog.format('the answer''s counter %s is not the request''s (key set %s, counter %s)',
                                                      p_counter, t.sim_key_set, t.counter) END),
            CASE WHEN found_t AND t.msisdn = k.msisdn THEN t.id END);
        RETURN NULL;
    END IF;
    PERFORM mobisign.audit_log('sim.answer', 'accepted',
        p_base || pg_catalog.jsonb_build_object('key_set', k.key_set, 'counter', p_counter,
            'result', p_result_name, 'cms_bytes', p_cms_bytes),
        t.id, t.application);
    RETURN t;
END
$$;

-- Step 6, for the SIM's OK: the CMS must verify against the registered
-- certificate and the user's PKI, over exactly the stored challenge or
-- text; the transaction ends completed (502) or failed.
CREATE FUNCTION mobisign._answer_verify_signature(t mobisign.transaction, p_cms bytea)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    es    record;
    v     record;
    v_pki text;
BEGIN
    -- assignments, not SELECT ... FROM f(): a function of one row needs no
    -- executor of its own (a function scan and its tuplestore per answer)
    es := mobisign._expected_signers(t.certificate_fingerprint, t.evidence);
    SELECT k2.name INTO v_pki FROM mobisign.pki k2 WHERE k2.id = t.pki_id;
    v := mobisign._verify_answer(p_cms, t.data, es.certificate, v_pki, t.kind, es.candidates);
    PERFORM mobisign._finish(t.id, CASE WHEN v.status_code = 502 THEN 'completed' ELSE 'failed' END,
        v.status_code,
        coalesce(v.reason, CASE WHEN v.valid THEN 'the signature is valid' END),
        pg_catalog.jsonb_build_object('valid', v.valid, 'chain', to_jsonb(v.chain),
            'signing_time', v.signing_time, 'pki', v.pki_name),
        p_cms, v.signer_fingerprint, v.signer_subject,
        coalesce(t.evidence, '{}') || coalesce(v.evidence, '{}')
            || pg_catalog.jsonb_build_object('chain', to_jsonb(v.chain),
                                             'checked_at', pg_catalog.clock_timestamp()));
END
$$;

-- How far apart the segments of one concatenated answer may arrive: a
-- segment received later than this after the first one of its set starts a
-- new set, and a set still incomplete after it can never complete.
CREATE FUNCTION mobisign._segment_window()
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT interval '2 minutes' $$;

-- How many segments of concatenated answers may wait for their set, per
-- MSISDN.  A user has one open transaction at a time and an answer is at
-- most 16 SMS, so 64 leaves room for a few answers that lost a segment;
-- beyond it the oldest are retired (anyone can send segments with this
-- MSISDN as originator: they must not grow the table or the work without
-- bound).
CREATE FUNCTION mobisign._segment_pending_max()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 64 $$;

-- The handler lock of one MSISDN's answers, held until the end of the
-- transaction: one handler per MSISDN at a time, whichever process
-- (mobisign._process_inbound waits for it; a verifier's claim only tries
-- it, and false means another verifier holds the MSISDN, or another MSISDN
-- of the same one of 1,024 slots).
CREATE FUNCTION mobisign._lock_answers(p_msisdn text, wait boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a row of mobisign.process_lock, which no application role can lock
    -- (an advisory lock any role could take and hold; sql/parts/10_tables.sql)
    IF wait THEN
        PERFORM FROM mobisign.process_lock l
         WHERE l.name = 'answers' AND l.slot = pg_catalog.hashtext(p_msisdn) & 1023
           FOR NO KEY UPDATE;
        RETURN true;
    END IF;
    PERFORM FROM mobisign.process_lock l
     WHERE l.name = 'answers' AND l.slot = pg_catalog.hashtext(p_msisdn) & 1023
       FOR NO KEY UPDATE SKIP LOCKED;
    RETURN FOUND;
END
$$;

-- A verifier's claim (docs/worker.md, "Answers in parallel"): up to batch
-- MSISDNs with answers waiting, oldest first.  The oldest row of an MSISDN
-- not yet looked at is taken FOR UPDATE SKIP LOCKED (another verifier's
-- claim is skipped, never waited for) and the MSISDN's handler lock is
-- taken without waiting; an MSISDN whose lock another verifier holds keeps
-- its rows for a later claim and is not looked at again in this claim, so
-- its rows (however many: anyone can send SMS with any MSISDN as
-- originator) never fill the claim and keep the MSISDNs behind them
-- waiting.  A claimed MSISDN's rows are all deleted at once (one handling
-- covers them all; what it leaves pending the recheck queues again), so a
-- flood of one MSISDN costs one claim, not one per row.  At most 4 * batch
-- rows are looked at.  The deletion commits with the handling of the
-- claimed answers, or rolls back with it (a verifier that dies loses
-- nothing).  Its plans are index scans whatever the queue's statistics
-- say (enable_seqscan off): a queue is nearly empty whenever autovacuum
-- looks at it and thousands of rows, live and dead, in a backlog, and the
-- plans are kept for the session, so a sequential scan chosen for the
-- empty queue would read all of it, twice for every MSISDN claimed.
CREATE FUNCTION mobisign._claim_answers(batch integer)
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    r      record;
    v_seen text[] := '{}';
    v_held integer := 0;
BEGIN
    FOR i IN 1 .. 4 * batch LOOP
        EXIT WHEN v_held >= batch;
        SELECT a.id, a.msisdn INTO r FROM mobisign.answer_queue a
         WHERE a.msisdn <> ALL (v_seen)
         ORDER BY a.id LIMIT 1
           FOR UPDATE SKIP LOCKED;
        EXIT WHEN NOT FOUND;
        v_seen := v_seen || r.msisdn;
        CONTINUE WHEN NOT mobisign._lock_answers(r.msisdn, wait => false);
        DELETE FROM mobisign.answer_queue a
         WHERE a.id = ANY (ARRAY(SELECT q.id FROM mobisign.answer_queue q
                                  WHERE q.msisdn = r.msisdn FOR UPDATE SKIP LOCKED));
        v_held := v_held + 1;
        RETURN NEXT r.msisdn;
    END LOOP;
END
$$;

-- The worker's recheck: every MSISDN with stored segments that are still
-- pending for more than a second (an answer whose handling rolled back
-- because the server's own state was not ready, e.g. a token away; a
-- concatenated answer still waiting for a segment) and no row waiting
-- already gets one, so a verifier looks at it again.  Returns how many were
-- queued (at most 1000).
CREATE FUNCTION mobisign._requeue_pending_answers()
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH pending AS (
        SELECT DISTINCT s.msisdn FROM mobisign.inbound_segment s
         WHERE NOT s.processed AND s.received_at < pg_catalog.now() - interval '1 s'
           AND NOT EXISTS (SELECT FROM mobisign.answer_queue a WHERE a.msisdn = s.msisdn)
         LIMIT 1000
    ), queued AS (
        INSERT INTO mobisign.answer_queue (msisdn) SELECT p.msisdn FROM pending p RETURNING 1
    )
    SELECT pg_catalog.count(*)::integer FROM queued
$$;

-- Reassemble and handle every complete answer received from one MSISDN.
-- Returns the number of answers handled. Never raises for bad input: each
-- answer is handled in its own subtransaction and failures are audited.
--
-- Segments are matched on MSISDN, 8-bit (or 16-bit) reference and total.
-- A SIM's reference is only 8 bits and may come round again, and an SMS may
-- be lost: walking one reference's pending segments in arrival order, a set
-- ends where a sequence number comes again or where a segment arrives more
-- than _segment_window() after the set's first one, and the next segment
-- starts a new set.  So the segments of an answer that lost one never
-- complete (or poison) the next answer that reuses its reference: that
-- answer's set is complete by itself, and is the one handled.  An
-- incomplete set followed by a newer set of the same reference is
-- superseded: audited (sim.answer / incomplete) and marked rejected, so it
-- waits for the window's end like a complete set that was not authentic.
-- It is not thrown away: a spoofed segment that repeats a sequence number
-- cuts a genuine answer in two sets, and the recombination below puts the
-- genuine one together again.
--
-- Its plans, and those of everything it calls (the GUC holds for the
-- nested calls), are generic ones, planned once per session: every
-- statement of the answer path finds its rows by key, so the generic plan
-- is the custom one, but a statement with an array parameter (the sets'
-- segment ids: "= ANY (g.ids)", unnest(v_ids, v_sets)) is costed for ten
-- elements when generic and for its one or two when custom.  Whether the
-- plan cache then keeps a custom plan, planned again for every answer,
-- depended on the table's statistics when the session first ran it: in a
-- new cluster it did (the sets' query 0.17-0.26 ms a time, with
-- _segment_pending_max() run at each planning: 0.31 ms a call against
-- 0.13 ms generic), in the bench's backlog it did not.
CREATE FUNCTION mobisign._process_inbound(msisdn text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    p_msisdn text := $1;
    g        record;
    s        record;
    n        integer := 0;
    v_auth   boolean;
    v_ids    bigint[] := '{}';
    v_sets   integer[] := '{}';
    v_set    integer := 0;
    v_ref    integer;
    v_total  integer;
    v_seqs   integer[];
    v_first  timestamptz;
    v_drop   bigint;
    v_drop_min bigint;
    v_drop_max bigint;
    grp      record;
    a        integer;
    j        integer;
    k        integer;
    v_pick   integer[];
    v_cand   integer[];
    v_cids   bigint[];
    v_cuds   bytea[];
    v_fresh  boolean;
    v_key    text;
    v_rejected bigint[] := '{}';  -- segments rejected in this call
    v_tried  text[] := '{}';
    v_tries  integer := 0;
    v_window interval := mobisign._segment_window();
BEGIN
    -- one handler per MSISDN at a time
    PERFORM mobisign._lock_answers(p_msisdn, wait => true);
    -- a flood of segments (more pending than _segment_pending_max()): the
    -- oldest are retired unread, audited once per call
    WITH excess AS (
        SELECT i.id FROM mobisign.inbound_segment i
         WHERE i.msisdn = p_msisdn AND NOT i.processed AND i.concat_ref IS NOT NULL
         ORDER BY i.id DESC
        OFFSET mobisign._segment_pending_max()
    ), retired AS (
        UPDATE mobisign.inbound_segment i SET processed = true
          FROM excess e WHERE i.id = e.id
        RETURNING i.id
    )
    SELECT count(*), min(r.id), max(r.id) INTO v_drop, v_drop_min, v_drop_max FROM retired r;
    IF v_drop > 0 THEN
        PERFORM mobisign.audit_log('sim.answer', 'dropped',
            pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segments', v_drop,
                'first_segment_id', v_drop_min, 'last_segment_id', v_drop_max,
                'reason', pg_catalog.format('more than %s segments of concatenated answers pending',
                                            mobisign._segment_pending_max())));
    END IF;

    -- number the sets of the concatenated segments (at most
    -- _segment_pending_max() of them)
    FOR s IN SELECT i.id, i.concat_ref, i.total, i.seq, i.received_at
               FROM mobisign.inbound_segment i
              WHERE i.msisdn = p_msisdn AND NOT i.processed AND NOT i.rejected
                AND i.concat_ref IS NOT NULL
              ORDER BY i.concat_ref, i.total, i.id
    LOOP
        IF v_set = 0 OR s.concat_ref <> v_ref OR s.total <> v_total OR s.seq = ANY (v_seqs)
           OR s.received_at > v_first + v_window THEN
            v_set := v_set + 1;
            v_ref := s.concat_ref;
            v_total := s.total;
            v_seqs := '{}';
            v_first := s.received_at;
        END IF;
        v_seqs := v_seqs || s.seq;
        v_ids := v_ids || s.id;
        v_sets := v_sets || v_set;
    END LOOP;

    FOR g IN
        WITH numbered AS (
            -- multi-argument unnest is FROM-clause syntax: it cannot be schema-qualified
            SELECT u.id, u.set_no FROM unnest(v_ids, v_sets) AS u(id, set_no)
        ), sets AS (
            SELECT u.set_no, i.concat_ref, i.total,
                   array_agg(i.id ORDER BY i.seq) AS ids, array_agg(i.user_data ORDER BY i.seq) AS uds,
                   min(i.id) AS first_id, count(*) AS have
              FROM numbered u JOIN mobisign.inbound_segment i ON i.id = u.id
             -- (said again for the planner: the kept plan then reads these
             -- rows by their key, never the whole table)
             WHERE i.id = ANY (v_ids)
             GROUP BY u.set_no, i.concat_ref, i.total
        ), ranked AS (
            SELECT st.*, st.set_no < max(st.set_no) OVER (PARTITION BY st.concat_ref, st.total) AS superseded
              FROM sets st
        )
        SELECT true AS complete, ARRAY[i.id] AS ids, ARRAY[i.user_data] AS uds, i.id AS first_id,
               NULL::integer AS concat_ref, 1::bigint AS total, 1::bigint AS have
          FROM mobisign.inbound_segment i
         WHERE i.msisdn = p_msisdn AND NOT i.processed AND i.concat_ref IS NULL
        UNION ALL
        SELECT r.have = r.total, r.ids, r.uds, r.first_id, r.concat_ref, r.total, r.have
          FROM ranked r
         WHERE r.have = r.total OR r.superseded
        ORDER BY first_id
        -- bounded work per call, oldest first: a flood of single SMS with
        -- this MSISDN as originator (anyone can send them) keeps the other
        -- MSISDNs of the verifier's batch waiting for its commit at most
        -- this long; the rest is queued again by the recheck
        LIMIT mobisign._segment_pending_max()
    LOOP
        IF NOT g.complete THEN
            -- an answer that lost a segment, or one that a spoofed segment
            -- repeating a sequence number cut in two: a newer set reuses its
            -- reference.  Its segments wait, rejected, for the window's end:
            -- candidates of the recombination below
            UPDATE mobisign.inbound_segment i SET rejected = true WHERE i.id = ANY (g.ids);
            v_rejected := v_rejected || g.ids;
            PERFORM mobisign.audit_log('sim.answer', 'incomplete',
                pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segment_ids', to_jsonb(g.ids),
                    'concat_ref', g.concat_ref, 'total', g.total, 'received', g.have,
                    'reason', 'segments missing, and a newer set reuses the concatenation reference; '
                              || 'the segments stay pending, for a recombination, until the segment window ends'));
            CONTINUE;
        END IF;
        v_auth := mobisign._handle_answer_guarded(p_msisdn, g.uds, g.ids);
        IF v_auth OR g.concat_ref IS NULL THEN
            UPDATE mobisign.inbound_segment i SET processed = true WHERE i.id = ANY (g.ids);
        ELSE
            -- complete but not authentic: a lost or spoofed segment may have
            -- taken the place of a genuine one, whose set may still come
            UPDATE mobisign.inbound_segment i SET rejected = true WHERE i.id = ANY (g.ids);
            v_rejected := v_rejected || g.ids;
            -- tried: the recombination does not check this set again
            v_tried := v_tried || pg_catalog.array_to_string(g.ids, ',');
        END IF;
        n := n + 1;
    END LOOP;

    -- Recombination.  For a reference with rejected segments and fresh ones
    -- (not rejected, or rejected in this call), try for each recent arrival
    -- the newest set as of it (the newest segment of each sequence number up
    -- to it, within the window), then its variants with one sequence
    -- number's segment replaced by an older one of that number (newest
    -- first), each that holds a fresh segment and was not tried in this
    -- call, and act on the first authentic one: so a genuine answer
    -- completes even when a segment of another answer (lost the first SMS)
    -- or a spoofed one completed a set first, or a spoofed segment that
    -- repeats a sequence number cut it in two (one substitution: one such
    -- segment per answer).  A candidate made of segments all rejected in
    -- earlier calls was tried by one of them: not again.  Trying is only
    -- checking the CC: nothing is audited until one is authentic.  Bounded:
    -- 16 arrivals per reference, 64 tries per call.
    -- None to look for when the numbering above found no segment of a
    -- concatenated answer that is not rejected (v_set = 0): a reference
    -- qualifies only with a fresh one, segments are never un-rejected, and
    -- one that arrived since is queued for a verifier with its arrival (as
    -- if it had come after this statement).  A single SMS's answer saves
    -- the statement.
    IF v_set > 0 THEN
        FOR grp IN SELECT i.concat_ref, i.total,
                          array_agg(i.id ORDER BY i.id) AS ids, array_agg(i.seq ORDER BY i.id) AS seqs,
                          array_agg(i.received_at ORDER BY i.id) AS ats,
                          array_agg(NOT i.rejected OR i.id = ANY (v_rejected) ORDER BY i.id) AS fresh
                     FROM mobisign.inbound_segment i
                    WHERE i.msisdn = p_msisdn AND NOT i.processed AND i.concat_ref IS NOT NULL
                    GROUP BY i.concat_ref, i.total
                   HAVING bool_or(i.rejected) AND bool_or(NOT i.rejected OR i.id = ANY (v_rejected))
                      AND count(*) >= i.total
        LOOP
            <<arrivals>>
            FOR a IN REVERSE pg_catalog.cardinality(grp.ids) .. GREATEST(1, pg_catalog.cardinality(grp.ids) - 15)
            LOOP
                EXIT WHEN v_tries >= 64;
                -- the newest set as of arrival a: v_pick[seq] = its segment
                -- (an index into grp's arrays)
                v_pick := pg_catalog.array_fill(NULL::integer, ARRAY[grp.total]);
                FOR j IN REVERSE a .. 1 LOOP
                    CONTINUE WHEN grp.ats[j] < grp.ats[a] - v_window OR grp.seqs[j] NOT BETWEEN 1 AND grp.total
                               OR v_pick[grp.seqs[j]] IS NOT NULL;
                    v_pick[grp.seqs[j]] := j;
                END LOOP;
                CONTINUE WHEN pg_catalog.array_position(v_pick, NULL) IS NOT NULL;
                -- j = a: that set; j < a: segment j in its sequence number's
                -- place
                FOR j IN REVERSE a .. 1 LOOP
                    EXIT arrivals WHEN v_tries >= 64;
                    CONTINUE WHEN grp.ats[j] < grp.ats[a] - v_window OR grp.seqs[j] NOT BETWEEN 1 AND grp.total
                               OR (j < a AND v_pick[grp.seqs[j]] = j);
                    v_cand := v_pick;
                    v_cand[grp.seqs[j]] := j;
                    v_cids := '{}';
                    v_fresh := false;
                    FOREACH k IN ARRAY v_cand LOOP
                        v_cids := v_cids || grp.ids[k];
                        v_fresh := v_fresh OR grp.fresh[k];
                    END LOOP;
                    CONTINUE WHEN NOT v_fresh;
                    v_key := pg_catalog.array_to_string(v_cids, ',');
                    CONTINUE WHEN v_key = ANY (v_tried);
                    v_tried := v_tried || v_key;
                    v_tries := v_tries + 1;
                    v_cuds := ARRAY(SELECT i.user_data
                                      FROM pg_catalog.unnest(v_cids) WITH ORDINALITY AS u(id, ord)
                                      JOIN mobisign.inbound_segment i ON i.id = u.id
                                     WHERE i.id = ANY (v_cids)
                                     ORDER BY u.ord);
                    CONTINUE WHEN NOT coalesce((SELECT mobisign._answer_authentic(o.stage)
                                                  FROM mobisign._open_answer(p_msisdn, v_cuds, NULL) o), false);
                    -- authentic: handle it.  The other rejected segments wait
                    -- for the window's end: an authentic set may be a replayed
                    -- old one, and they may still hold a segment of the
                    -- genuine answer
                    PERFORM mobisign._handle_answer_guarded(p_msisdn, v_cuds, v_cids);
                    UPDATE mobisign.inbound_segment i SET processed = true WHERE i.id = ANY (v_cids);
                    n := n + 1;
                    EXIT arrivals;
                END LOOP;
            END LOOP;
        END LOOP;
    END IF;
    RETURN n;
END
$$;

-- mobisign._handle_answer in its own subtransaction: an unexpected error is
-- audited (sim.answer / error) and counts as handled (true). Not so an
-- error of the server's own state (55000: a PKCS#11 token away or locked, a
-- key source not configured), nor one of concurrency or resources (class
-- 40: a deadlock with the worker's batch or an application's transaction,
-- a serialization failure; 55P03: lock_timeout; class 53: out of memory,
-- disk full): none is the answer's fault, so it goes up, the worker's unit
-- rolls back, and the stored segments stay pending and are tried again at
-- the next recheck (until the transaction expires).  Taken for the
-- answer's fault, the answer would be processed and lost: its transaction
-- would never complete.
CREATE FUNCTION mobisign._handle_answer_guarded(p_msisdn text, p_segments bytea[], p_segment_ids bigint[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_state text;
    v_msg   text;
BEGIN
    RETURN mobisign._handle_answer(p_msisdn, p_segments, p_segment_ids);
EXCEPTION WHEN object_not_in_prerequisite_state OR transaction_rollback OR lock_not_available
               OR insufficient_resources THEN
    RAISE;
WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
    PERFORM mobisign.audit_log('sim.answer', 'error',
        pg_catalog.jsonb_build_object('msisdn', p_msisdn, 'segment_ids', to_jsonb(p_segment_ids),
            'sqlstate', v_state, 'message', v_msg));
    RETURN true;
END
$$;

-- Internals to nobody
REVOKE ALL ON FUNCTION
    mobisign._handle_answer(text, bytea[], bigint[]), mobisign._process_inbound(text),
    mobisign._answer_audit_unauthentic(jsonb, text, text, integer),
    mobisign._answer_is_duplicate_delivery(mobisign.sim_key, text, integer, bigint, text, jsonb),
    mobisign._answer_take_counter(mobisign.sim_key, bigint, bytea, jsonb),
    mobisign._answer_sim_refusal(mobisign.sim_key, text, text, bigint, integer, jsonb),
    mobisign._answer_transaction(mobisign.sim_key, bigint, bytea, text, integer, jsonb),
    mobisign._answer_verify_signature(mobisign.transaction, bytea),
    mobisign._segment_window(), mobisign._segment_pending_max(),
    mobisign._handle_answer_guarded(text, bytea[], bigint[]), mobisign._open_answer(text, bytea[], mobisign.sim_key[]),
    mobisign._answer_authentic(text), mobisign._lock_answers(text, boolean),
    mobisign._claim_answers(integer), mobisign._requeue_pending_answers()
FROM PUBLIC;
