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
-- have taken a genuine one's place (section 7).
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
--    (audited 'incomplete') and never combined with B's third one.
SELECT seg('A1', 7, 3, 1), seg('A2', 7, 3, 2);
SELECT * FROM answers();
SELECT seg('B1', 7, 3, 1), seg('B2', 7, 3, 2), seg('B3', 7, 3, 3);
SELECT * FROM answers();
-- B was rejected (no key set here): its segments wait, marked rejected
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

-- 8. A flood: anyone can send segments with this MSISDN as originator, and
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

-- 9. Answers in parallel.  Storing a segment also queues its MSISDN in
--    mobisign.answer_queue (in the same commit); the answer verifiers claim
--    the oldest rows with mobisign._claim_answers(batch): rows another
--    verifier has claimed are skipped (FOR UPDATE SKIP LOCKED), so is an
--    MSISDN whose handler lock (mobisign._lock_answers) another verifier
--    holds, and the claimed rows are deleted in the claimer's transaction.
INSERT INTO mobisign.answer_queue (msisdn)
VALUES ('+3585550000001'), ('+3585550000002'), ('+3585550000001'), ('+3585550000003');
BEGIN;
-- a batch of 2: the two oldest MSISDNs; the second row of +...0001 goes
-- with its first (one handling covers both)
SELECT m AS claimed FROM mobisign._claim_answers(2) m;
SELECT msisdn AS still_queued FROM mobisign.answer_queue ORDER BY id;
-- the claimer now holds both MSISDNs' handler locks until its commit
SELECT count(*) AS handler_locks_held FROM pg_catalog.pg_locks
 WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted;
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
-- section 8): not while they are fresh (as if just received), then once.
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

-- 10. A flood of single SMS (no concatenation header: each one is a
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
