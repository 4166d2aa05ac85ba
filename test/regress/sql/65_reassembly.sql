--
-- Reassembly of concatenated answers (mobisign._process_inbound).
--
-- The worker stores every received SMS in mobisign.inbound_segment with the
-- concatenation reference, total and sequence number of its UDH, then calls
-- mobisign._process_inbound(msisdn).  The MSISDN used here has no SIM key
-- set, so every answer that is handled is audited 'sim.answer' / 'rejected'
-- ("no key set") with the ids of the segments it was made of: that shows
-- which segments were put together.  Each segment's user data is a 6-octet
-- concatenation header followed by a label ("A1" = answer A, segment 1).
-- The segments of a complete set that is not authentic stay pending,
-- marked rejected, until the window ends: a lost or spoofed segment may
-- have taken a genuine one's place (sections 7 and 8).
--

-- store one segment as the worker does, then process as the worker does
CREATE FUNCTION seg(label text, ref integer, total integer, seq integer,
                    age interval DEFAULT '0 s', process boolean DEFAULT true) RETURNS integer
LANGUAGE sql AS $$
    INSERT INTO mobisign.inbound_segment (msisdn, concat_ref, total, seq, received_at, user_data, digest)
    SELECT '+3585550000001', ref, total, seq, now() - age, u, sha256(u)
      FROM (SELECT '\x050003'::bytea || set_byte('\x00'::bytea, 0, ref) || set_byte('\x00'::bytea, 0, total)
                   || set_byte('\x00'::bytea, 0, seq) || convert_to(label, 'UTF8') AS u) x;
    SELECT CASE WHEN process THEN mobisign._process_inbound('+3585550000001') ELSE 0 END;
$$;

-- what the audit says about this MSISDN's answers since the last call:
-- outcome and the labels of the segments, in the order they were put together
CREATE TABLE seen (id bigint PRIMARY KEY);
CREATE FUNCTION answers() RETURNS TABLE (outcome text, segments text)
LANGUAGE sql AS $$
    WITH new AS (
        INSERT INTO seen SELECT a.id FROM mobisign.audit a
         WHERE a.operation = 'sim.answer' AND a.detail->>'msisdn' = '+3585550000001'
           AND a.id NOT IN (SELECT id FROM seen)
        RETURNING id
    )
    SELECT a.outcome,
           (SELECT string_agg(convert_from(substr(s.user_data, 7), 'UTF8'), ' ' ORDER BY e.ord)
              FROM jsonb_array_elements_text(a.detail->'segment_ids') WITH ORDINALITY e(sid, ord)
              JOIN mobisign.inbound_segment s ON s.id = e.sid::bigint)
      FROM mobisign.audit a JOIN new USING (id)
     ORDER BY a.id;
$$;

-- 1. Answer A (3 SMS, reference 7) loses its last SMS.  Answer B reuses
--    reference 7 and arrives complete.  B's first SMS repeats sequence
--    number 1, so it starts a new set: A's two segments are superseded
--    (audited 'incomplete') and never made an answer with B's third one:
--    B's set is handled by itself.  A's segments are not thrown away: they
--    wait, marked rejected, until the window ends (section 8 shows why).
SELECT seg('A1', 7, 3, 1), seg('A2', 7, 3, 2);
SELECT * FROM answers();
SELECT seg('B1', 7, 3, 1), seg('B2', 7, 3, 2), seg('B3', 7, 3, 3);
SELECT * FROM answers();
-- B was rejected (no key set here): its segments wait, marked rejected,
-- and so do A's
SELECT string_agg(convert_from(substr(user_data, 7), 'UTF8') || CASE WHEN rejected THEN ' (rejected)' ELSE '' END,
                  ', ' ORDER BY id) AS pending
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed;

-- 2. The same when the middle SMS is lost.
SELECT seg('C1', 8, 3, 1), seg('C3', 8, 3, 3);
SELECT seg('D1', 8, 3, 1), seg('D2', 8, 3, 2), seg('D3', 8, 3, 3);
SELECT * FROM answers();

-- 3. Segments arriving out of order are put in sequence order.
SELECT seg('E2', 9, 3, 2), seg('E3', 9, 3, 3), seg('E1', 9, 3, 1);
SELECT * FROM answers();

-- 4. The time window: F's segments arrived 5 minutes ago, more than
--    mobisign._segment_window() before G's; G3 starts a new set (it would
--    otherwise complete F) and F is superseded.  G3 waits for its set.
SELECT mobisign._segment_window();
SELECT seg('F1', 10, 3, 1, '5 min'), seg('F2', 10, 3, 2, '5 min');
SELECT seg('G3', 10, 3, 3);
SELECT * FROM answers();
SELECT convert_from(substr(user_data, 7), 'UTF8') AS pending
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed AND NOT rejected;

-- 5. Two complete answers with the same reference stored before the
--    worker got to process them (e.g. after a restart): both are handled,
--    each with its own segments.
SELECT seg('H1', 11, 2, 1, process => false), seg('H2', 11, 2, 2, process => false),
       seg('I1', 11, 2, 1, process => false), seg('I2', 11, 2, 2, process => false);
SELECT mobisign._process_inbound('+3585550000001');
SELECT * FROM answers();

-- 6. A total that differs is another answer: J (total 2) and K (total 3)
--    with reference 12 do not mix.
SELECT seg('J1', 12, 2, 1), seg('K1', 12, 3, 1), seg('J2', 12, 2, 2);
SELECT * FROM answers();

-- 7. Recombination.  Answer M lost its first SMS; its segments M2 and M3
--    wait.  The next answer N reuses reference 30: N1 completes M2 M3 into
--    a set that is not authentic (rejected).  When N2 and N3 arrive, the
--    newest set as of each arrival is tried: N1 N2 M3, then N1 N2 N3.
--    Trying only checks the cryptographic checksum (with a key set, an
--    authentic N would be handled; here there is none): nothing more is
--    audited, and the segments wait until the window ends.
SELECT seg('M2', 30, 3, 2), seg('M3', 30, 3, 3), seg('N1', 30, 3, 1);
SELECT * FROM answers();
SELECT seg('N2', 30, 3, 2), seg('N3', 30, 3, 3);
SELECT * FROM answers();
SELECT string_agg(convert_from(substr(user_data, 7), 'UTF8') || CASE WHEN rejected THEN ' (rejected)' ELSE '' END,
                  ', ' ORDER BY id) AS pending
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed AND concat_ref = 30;
-- at the end of the window, mobisign._expire retires them all (and every
-- other segment still pending here)
UPDATE mobisign.inbound_segment SET received_at = received_at - interval '3 min'
 WHERE msisdn = '+3585550000001' AND NOT processed;
SELECT mobisign._expire();
SELECT count(*) AS pending FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed;

-- 8. A spoofed segment that repeats a sequence number.  Anyone who can send
--    SMS with this MSISDN as originator and sees (or guesses) the 8-bit
--    reference of an answer on its way can send a segment "k of 3" of its
--    own while the genuine segments arrive (P = the genuine answer's
--    segments, X = the spoofed one).  It repeats a sequence number, so it
--    cuts the genuine segments into two sets, and the older one, incomplete,
--    is superseded (audited 'incomplete').  Its segments are not thrown
--    away: they wait, marked rejected, until the window ends, so that the
--    recombination of section 7 still finds the genuine answer.
--
--    X2 arrives between P1 and P2: P2 repeats sequence number 2, so P1 X2
--    is one set (superseded when P2 comes), P2 P3 the next (incomplete).
SELECT seg('P1', 40, 3, 1), seg('X2', 40, 3, 2), seg('P2', 40, 3, 2), seg('P3', 40, 3, 3);
SELECT * FROM answers();
SELECT string_agg(convert_from(substr(user_data, 7), 'UTF8') || CASE WHEN rejected THEN ' (rejected)' ELSE '' END,
                  ', ' ORDER BY id) AS pending
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed AND concat_ref = 40;
--    X1 arrives right after P1: P1 alone is superseded, X1 P2 P3 is a
--    complete set, handled and rejected (here for want of a key set; with
--    the SIM's keys, for its checksum).  All four wait.
SELECT seg('P1', 41, 3, 1), seg('X1', 41, 3, 1), seg('P2', 41, 3, 2), seg('P3', 41, 3, 3);
SELECT * FROM answers();
SELECT string_agg(convert_from(substr(user_data, 7), 'UTF8') || CASE WHEN rejected THEN ' (rejected)' ELSE '' END,
                  ', ' ORDER BY id) AS pending
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed AND concat_ref = 41;
--    At the end of the window, mobisign._expire retires them (and every
--    other segment still pending here).
UPDATE mobisign.inbound_segment SET received_at = received_at - interval '3 min'
 WHERE msisdn = '+3585550000001' AND NOT processed;
SELECT mobisign._expire();

--    Which sets the recombination tries, and that it stops at the genuine
--    one, needs an authentic answer: in a transaction rolled back, the CC
--    check (mobisign._open_answer) is replaced by a stand-in that says
--    which segments a try put together, and calls a set authentic when it
--    has no spoofed segment.  (The handler's own call, with the key sets
--    it read, stays silent; finding no key set, the handler then audits
--    the answer 'rejected' as everywhere here: what matters is which
--    segments it was given.)  Each case uses a reference of its own.
BEGIN;
CREATE OR REPLACE FUNCTION mobisign._open_answer(p_msisdn text, p_segments bytea[],
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
    v_labels text := (SELECT string_agg(convert_from(substr(u.ud, 7), 'UTF8'), ' ' ORDER BY u.ord)
                        FROM unnest(p_segments) WITH ORDINALITY u(ud, ord));
BEGIN
    stage := CASE WHEN v_labels LIKE '%X%' THEN 'security' ELSE 'ok' END;
    failure := 'stand-in';
    IF p_keys IS NULL THEN
        RAISE NOTICE 'tried %: %', v_labels,
            CASE WHEN stage = 'ok' THEN 'authentic' ELSE 'not authentic' END;
    END IF;
END
$$;
--    a. P1 X2 P2 P3: at P3, the newest set as of it is P1 P2 P3 (P1 from
--       the superseded set): authentic at the first try.
SELECT seg('P1', 42, 3, 1), seg('X2', 42, 3, 2), seg('P2', 42, 3, 2), seg('P3', 42, 3, 3);
SELECT * FROM answers();
--    b. X2 P1 P2 P3: the same (X2 P1 is the superseded set).
SELECT seg('X2', 43, 3, 2), seg('P1', 43, 3, 1), seg('P2', 43, 3, 2), seg('P3', 43, 3, 3);
SELECT * FROM answers();
--    c. P1 X1 P2 P3: X1 P2 P3 is complete, handled and rejected (not tried
--       again); its variant with P1 in X1's place is authentic.  The
--       newest segment of each sequence number alone would never find it.
SELECT seg('P1', 44, 3, 1), seg('X1', 44, 3, 1), seg('P2', 44, 3, 2), seg('P3', 44, 3, 3);
SELECT * FROM answers();
--    d. P1 P2 X2 P3: P1 P2 is superseded by X2; at P3 the newest set
--       P1 X2 P3 is not authentic, its variant with P2 in X2's place is.
SELECT seg('P1', 45, 3, 1), seg('P2', 45, 3, 2), seg('X2', 45, 3, 2), seg('P3', 45, 3, 3);
SELECT * FROM answers();
--    e. The same stored before the worker got to it (one call): P1 P2 is
--       superseded and X2 P3 incomplete in the same call, whose segments
--       are fresh for the recombination of that call.
SELECT seg('P1', 46, 3, 1, process => false), seg('P2', 46, 3, 2, process => false),
       seg('X2', 46, 3, 2, process => false), seg('P3', 46, 3, 3, process => false);
SELECT mobisign._process_inbound('+3585550000001') AS handled;
SELECT * FROM answers();
--    Only the spoofed segments are left, waiting for the window's end.
--    Nothing is tried again at the next call (say the worker's recheck):
--    every candidate left is made of segments rejected in earlier calls.
SELECT string_agg(convert_from(substr(user_data, 7), 'UTF8') || ' (' || concat_ref || ')', ', ' ORDER BY id) AS pending
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed AND concat_ref BETWEEN 42 AND 46;
SELECT mobisign._process_inbound('+3585550000001') AS handled_at_recheck;
ROLLBACK;
SELECT count(*) AS pending FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed;

-- 9. A flood: anyone can send segments with this MSISDN as originator, and
--    segments that never complete would pile up (and be walked on every
--    call).  At most mobisign._segment_pending_max() of them wait; beyond
--    that the oldest are retired unread, with one 'dropped' audit row.
--    Here 70 single segments of 2-SMS answers (references 100..169) arrive
--    before the worker gets to them.
SELECT mobisign._segment_pending_max();
SELECT count(*) AS pending_before
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed;
SELECT count(*) FROM generate_series(1, 70) n,
       LATERAL seg(pg_catalog.format('L%s', n), 99 + n, 2, 1, process => false);
SELECT mobisign._process_inbound('+3585550000001');
SELECT outcome, detail->>'segments' AS segments, detail->>'reason' AS reason
  FROM mobisign.audit
 WHERE operation = 'sim.answer' AND detail->>'msisdn' = '+3585550000001' AND outcome = 'dropped';
-- the 64 newest wait: L1..L6 are retired, L7..L70 remain
SELECT count(*) AS pending_after,
       min(convert_from(substr(user_data, 7), 'UTF8')) FILTER (WHERE id = (SELECT min(id) FROM mobisign.inbound_segment
            WHERE msisdn = '+3585550000001' AND NOT processed)) AS oldest_kept
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000001' AND NOT processed;

-- 10. Answers in parallel.  Storing a segment also queues its MSISDN in
--     mobisign.answer_queue (in the same commit); the answer verifiers claim
--     the oldest rows with mobisign._claim_answers(batch): rows another
--     verifier has claimed are skipped (FOR UPDATE SKIP LOCKED), so is an
--     MSISDN whose handler lock (mobisign._lock_answers) another verifier
--     holds, and the claimed rows are deleted in the claimer's transaction.
INSERT INTO mobisign.answer_queue (msisdn)
VALUES ('+3585550000001'), ('+3585550000002'), ('+3585550000001'), ('+3585550000003');
BEGIN;
-- a batch of 2: the two oldest MSISDNs; the second row of +...0001 goes
-- with its first (one handling covers both)
SELECT m AS claimed FROM mobisign._claim_answers(2) m;
SELECT msisdn AS still_queued FROM mobisign.answer_queue ORDER BY id;
-- the claimer now holds both MSISDNs' handler locks until its commit: their
-- rows of mobisign.process_lock, locked by this transaction
SELECT count(*) AS handler_locks_held FROM mobisign.process_lock l
 WHERE l.name = 'answers' AND l.xmax::text = pg_catalog.pg_current_xact_id()::text
   AND l.slot IN (pg_catalog.hashtext('+3585550000001') & 1023,
                  pg_catalog.hashtext('+3585550000002') & 1023);
-- a handler of this session takes a lock it holds again at once
SELECT mobisign._lock_answers('+3585550000001', wait => false) AS held_again;
ROLLBACK;
-- rolled back (as when a verifier dies): every row is queued again
SELECT msisdn AS queued_after_rollback FROM mobisign.answer_queue ORDER BY id;
DELETE FROM mobisign.answer_queue;

-- A flood of one MSISDN (anyone can send SMS with any originator): 40 rows
-- of +...0001 ahead of one row of +...0002.  One claim of a batch of 2
-- takes both MSISDNs and deletes all 41 rows: the flood neither fills the
-- claim (keeping +...0002 waiting behind it) nor costs one claim per row.
INSERT INTO mobisign.answer_queue (msisdn)
SELECT '+3585550000001' FROM pg_catalog.generate_series(1, 40);
INSERT INTO mobisign.answer_queue (msisdn) VALUES ('+3585550000002');
BEGIN;
SELECT m AS claimed_past_flood FROM mobisign._claim_answers(2) m;
SELECT count(*) AS queued_after_flood_claim FROM mobisign.answer_queue;
ROLLBACK;
DELETE FROM mobisign.answer_queue;

-- A claim reads the queue through its indexes whatever the statistics say:
-- analyzed while empty (as autovacuum mostly finds a queue), the planner
-- would scan all of it, and in a backlog its dead rows too, twice for
-- every MSISDN claimed.  (The session's scans not yet reported, before and
-- after the claim.)
DELETE FROM mobisign.answer_queue;
ANALYZE mobisign.answer_queue;
INSERT INTO mobisign.answer_queue (msisdn)
VALUES ('+3585550000001'), ('+3585550000002'), ('+3585550000001');
BEGIN;
SELECT pg_catalog.pg_stat_get_xact_numscans('mobisign.answer_queue'::regclass) AS seq_before,
       pg_catalog.pg_stat_get_xact_numscans('mobisign.answer_queue_pkey'::regclass) AS idx_before \gset
SELECT m AS claimed_by_index FROM mobisign._claim_answers(2) m;
SELECT pg_catalog.pg_stat_get_xact_numscans('mobisign.answer_queue'::regclass) - :seq_before
           AS queue_seq_scans,
       pg_catalog.pg_stat_get_xact_numscans('mobisign.answer_queue_pkey'::regclass) > :idx_before
           AS queue_read_by_index;
SELECT count(*) AS queued_after_claim_by_index FROM mobisign.answer_queue;
ROLLBACK;
DELETE FROM mobisign.answer_queue;

-- An MSISDN another verifier holds (here a second session, through dblink,
-- holds +...0001's handler lock) keeps its rows, however many, and the
-- claim goes past them to +...0002: a busy MSISDN's flood does not keep
-- the others waiting.
CREATE EXTENSION dblink;
SELECT dblink_connect('other_verifier',
       pg_catalog.format('dbname=%s port=%s host=%s user=%s', current_database(),
                         current_setting('port'),
                         split_part(current_setting('unix_socket_directories'), ',', 1),
                         current_user)) AS connected;
SELECT dblink_exec('other_verifier', 'BEGIN') AS other_began;
SELECT held FROM dblink('other_verifier',
       $$SELECT mobisign._lock_answers('+3585550000001', wait => false)$$) AS d(held boolean);
INSERT INTO mobisign.answer_queue (msisdn)
SELECT '+3585550000001' FROM pg_catalog.generate_series(1, 40);
INSERT INTO mobisign.answer_queue (msisdn) VALUES ('+3585550000002');
BEGIN;
SELECT m AS claimed_past_busy FROM mobisign._claim_answers(2) m;
SELECT msisdn, count(*) AS still_queued FROM mobisign.answer_queue GROUP BY msisdn;
ROLLBACK;
SELECT dblink_exec('other_verifier', 'ROLLBACK') AS other_ended;
SELECT dblink_disconnect('other_verifier') AS disconnected;
DROP EXTENSION dblink;
DELETE FROM mobisign.answer_queue;

-- The worker's recheck queues every MSISDN with segments pending for more
-- than a second and no row waiting (here the flood's 64 segments of
-- section 9): not while they are fresh (as if just received), then once.
UPDATE mobisign.inbound_segment SET received_at = now() + interval '1 min'
 WHERE msisdn = '+3585550000001' AND NOT processed;
SELECT mobisign._requeue_pending_answers() AS queued_while_fresh;
UPDATE mobisign.inbound_segment SET received_at = now() - interval '10 s'
 WHERE msisdn = '+3585550000001' AND NOT processed;
SELECT mobisign._requeue_pending_answers() AS queued;
SELECT mobisign._requeue_pending_answers() AS queued_again;
SELECT msisdn FROM mobisign.answer_queue;
-- a verifier's claim, then its handling, in one transaction
BEGIN;
SELECT count(*) AS handled FROM mobisign._claim_answers(8) m, LATERAL mobisign._process_inbound(m);
COMMIT;
SELECT count(*) AS queued_after_handling FROM mobisign.answer_queue;

-- 11. A flood of single SMS (no concatenation header: each one is a
--     complete answer) with this MSISDN as originator.  One call handles at
--     most mobisign._segment_pending_max() of them, oldest first, so the
--     other MSISDNs of a verifier's batch wait for its commit a bounded
--     time; the rest stay pending for the next call (the recheck queues it).
INSERT INTO mobisign.inbound_segment (msisdn, user_data, digest)
SELECT '+3585550000004', u, sha256(u)
  FROM generate_series(1, 100) n, LATERAL convert_to(format('S%s', n), 'UTF8') u;
SELECT mobisign._process_inbound('+3585550000004') AS handled_first_call;
SELECT count(*) AS still_pending,
       min(convert_from(user_data, 'UTF8')) FILTER (WHERE id = (SELECT min(id) FROM mobisign.inbound_segment
            WHERE msisdn = '+3585550000004' AND NOT processed)) AS oldest_pending
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000004' AND NOT processed;
SELECT mobisign._process_inbound('+3585550000004') AS handled_second_call;
SELECT count(*) AS pending_at_the_end
  FROM mobisign.inbound_segment WHERE msisdn = '+3585550000004' AND NOT processed;
