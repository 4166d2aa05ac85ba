-- Backups and restores (docs/operations.md).
--
-- pg_dump writes an extension's objects as one CREATE EXTENSION (the script
-- recreates them) and, of its tables, only the rows of those marked with
-- pg_extension_config_dump().  Every table of schema mobisign is one of:
--
--   configuration  pki, crl, certificate, directory, app_user, sim_key, smsc,
--                  relying_party
--   state          transaction, request_queue, inbound_segment, answer_queue, audit
--   install-time   status_code: this script inserts every row (from C,
--                  01_domain.sql), nothing adds any
--   cache          ocsp_response (used until its nextUpdate, then fetched again),
--                  crl_source (found again from the certificates by the next
--                  refresh), crl_point_examined (emptied, the next refresh
--                  reads every certificate again)
--   transient      restore_event (below)
--
-- Configuration and state are dumped, whole; so are the identity sequences
-- of those tables, without which a restored database would hand out ids that
-- exist already (the first new audit row would fail).  CRLs fetched from a
-- directory or URL are cached, but they are dumped too: a CRL is stored only
-- if it is newer than the cached one, and an empty cache would take back an
-- older CRL that is still within its validity.  test/pgtap/07_dump.sql holds
-- this classification: a new table that is in no class fails it.
--
-- A restored database describes SIMs as they were when the backup was taken.
-- Each SIM accepts only counters above the last one it has seen ("process if
-- higher"), and the server accepts only answers whose counter is above the
-- highest it accepted before: a restore must never send, nor accept, a
-- counter of the time between the backup and the restore.  So every SIM key
-- set that arrives from outside mobisign_add_sim_key() (pg_restore, psql
-- with a plain dump, an INSERT by hand) jumps by
-- mobisign.restore_counter_margin, and answers at or below the new counter
-- are refused; a transaction that was open in the backup expires at once
-- (its queued SMS are never sent: the worker sends nothing past its expiry).
-- The worker records each restore in the audit trail (mobisign._record_restores).
-- mobisign_advance_counters() does the same by hand (point-in-time recovery,
-- a failover to a standby that lagged, a data-only restore with triggers
-- disabled).

------------------------------------------------------------------------------
-- Which rows are written by mobisign's own functions
------------------------------------------------------------------------------

-- mobisign_add_sim_key() and mobisign._request() set this flag around their
-- INSERTs; any other row of sim_key or transaction is a restored (or
-- hand-made) one.  Setting the flag grants nothing: only the owner can write
-- these tables, and the API sets it itself.
CREATE FUNCTION mobisign._own_write(on_off boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'ms_own_write'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION mobisign._is_own_write()
RETURNS boolean
AS 'MODULE_PATHNAME', 'ms_is_own_write'
LANGUAGE C STABLE;

------------------------------------------------------------------------------
-- Restored rows are made safe as they arrive
------------------------------------------------------------------------------

CREATE FUNCTION mobisign._restore_counter_margin()
RETURNS bigint
AS 'MODULE_PATHNAME', 'ms_restore_counter_margin'
LANGUAGE C STRICT STABLE
SET search_path = pg_catalog, pg_temp;

-- How far a counter that a SIM refused as too low jumps past it
-- (sql/parts/44_sim_answers.sql, after a failover that lost commits).
CREATE FUNCTION mobisign._counter_low_margin()
RETURNS bigint
AS 'MODULE_PATHNAME', 'ms_counter_low_margin'
LANGUAGE C STRICT STABLE
SET search_path = pg_catalog, pg_temp;

-- A counter that has jumped by margin; the 5-byte counter saturates (the key
-- set is then exhausted and must be replaced, which mobisign says when used).
CREATE FUNCTION mobisign._counter_after_restore(counter bigint, margin bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT LEAST(counter + margin, mobisign._ota_counter_max())
$$;

-- What a restore did, until the worker writes it into the audit trail. No
-- audit row is written during the restore itself: the audit table and its
-- id sequence may not be loaded yet (a new row would take an id that the
-- restore is about to insert).
CREATE TABLE mobisign.restore_event (
    xid               xid8 PRIMARY KEY DEFAULT pg_catalog.pg_current_xact_id(),
    restored_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    counter_margin    bigint NOT NULL,
    sim_keys          bigint NOT NULL DEFAULT 0,
    open_transactions bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE mobisign.restore_event IS
    'restores seen (counters advanced, open transactions expired) and not yet written into the audit trail';

CREATE FUNCTION mobisign._restoring_sim_key()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m bigint;
BEGIN
    IF mobisign._is_own_write() THEN
        RETURN NEW;
    END IF;
    m := mobisign._restore_counter_margin();
    NEW.counter := mobisign._counter_after_restore(NEW.counter, m);
    -- every answer of the time before the restore has a counter at or
    -- below the new one: none is accepted any more
    NEW.response_counter := GREATEST(NEW.response_counter, NEW.counter);
    INSERT INTO mobisign.restore_event AS e (counter_margin, sim_keys) VALUES (m, 1)
    ON CONFLICT (xid) DO UPDATE SET sim_keys = e.sim_keys + 1;
    RETURN NEW;
END
$$;

CREATE FUNCTION mobisign._restoring_transaction()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF mobisign._is_own_write() THEN
        RETURN NEW;
    END IF;
    -- its answer can no longer be accepted (see above), and what is queued
    -- for it must not be sent: it expires as soon as the worker looks
    NEW.expires_at := LEAST(NEW.expires_at, pg_catalog.now());
    INSERT INTO mobisign.restore_event AS e (counter_margin, open_transactions)
    VALUES (mobisign._restore_counter_margin(), 1)
    ON CONFLICT (xid) DO UPDATE SET open_transactions = e.open_transactions + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER sim_key_restored BEFORE INSERT ON mobisign.sim_key
    FOR EACH ROW EXECUTE FUNCTION mobisign._restoring_sim_key();
CREATE TRIGGER transaction_restored BEFORE INSERT ON mobisign.transaction
    FOR EACH ROW WHEN (mobisign._is_open(NEW.state))
    EXECUTE FUNCTION mobisign._restoring_transaction();
-- also with session_replication_role = replica (only ALTER TABLE ... DISABLE
-- TRIGGER, e.g. pg_restore --disable-triggers, turns them off)
ALTER TABLE mobisign.sim_key ENABLE ALWAYS TRIGGER sim_key_restored;
ALTER TABLE mobisign.transaction ENABLE ALWAYS TRIGGER transaction_restored;

-- Write what restores did into the audit trail (the worker calls this in its
-- housekeeping). Returns the number of restores recorded.
CREATE FUNCTION mobisign._record_restores()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e mobisign.restore_event;
    n integer := 0;
BEGIN
    FOR e IN DELETE FROM mobisign.restore_event RETURNING * LOOP
        PERFORM mobisign.audit_log('restore', 'counters advanced', pg_catalog.jsonb_build_object(
            'restored_at', e.restored_at, 'sim_keys', e.sim_keys,
            'counter_margin', e.counter_margin, 'open_transactions_expired', e.open_transactions));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

------------------------------------------------------------------------------
-- By hand: after point-in-time recovery, a failover to a standby that was
-- behind, or a restore with triggers disabled (superuser)
------------------------------------------------------------------------------

CREATE FUNCTION mobisign_advance_counters(margin bigint DEFAULT NULL,
                                          OUT sim_keys bigint, OUT open_transactions bigint)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m bigint;
BEGIN
    IF margin IS NOT NULL AND margin NOT BETWEEN 1 AND mobisign._ota_counter_max() THEN
        RAISE EXCEPTION 'margin must be between 1 and 2^40-1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    m := coalesce(margin, mobisign._restore_counter_margin());
    PERFORM mobisign._record_restores();
    UPDATE mobisign.sim_key k
       SET counter = mobisign._counter_after_restore(k.counter, m),
           response_counter = GREATEST(k.response_counter, mobisign._counter_after_restore(k.counter, m));
    GET DIAGNOSTICS sim_keys = ROW_COUNT;
    UPDATE mobisign.transaction t SET expires_at = LEAST(t.expires_at, pg_catalog.now())
     WHERE mobisign._is_open(t.state);
    GET DIAGNOSTICS open_transactions = ROW_COUNT;
    PERFORM mobisign.audit_log('sim_key.advance', 'success', pg_catalog.jsonb_build_object(
        'sim_keys', sim_keys, 'counter_margin', m, 'open_transactions_expired', open_transactions));
END
$$;
COMMENT ON FUNCTION mobisign_advance_counters(bigint) IS
    'moves every SIM OTA counter forward by margin (default mobisign.restore_counter_margin) and expires open transactions: after a point-in-time recovery or a failover that lost commits';

------------------------------------------------------------------------------
-- What pg_dump keeps
------------------------------------------------------------------------------

-- One call per statement: each call rewrites the extension's catalog row.
DO $dump$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY['mobisign.pki', 'mobisign.crl', 'mobisign.certificate',
                             'mobisign.directory', 'mobisign.app_user', 'mobisign.sim_key',
                             'mobisign.smsc', 'mobisign.relying_party', 'mobisign.transaction', 'mobisign.request_queue',
                             'mobisign.inbound_segment', 'mobisign.answer_queue',
                             'mobisign.audit']::regclass[] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t, '');
    END LOOP;
    -- the identity sequences of those tables
    FOR t IN
        SELECT pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass
          FROM pg_catalog.pg_attribute a
         WHERE a.attidentity <> ''
           AND a.attrelid = ANY ((SELECT e.extconfig FROM pg_catalog.pg_extension e
                                   WHERE e.extname = 'mobisign')::oid[])
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t, '');
    END LOOP;
END
$dump$;
GRANT SELECT ON mobisign.restore_event TO mobisign_admin, mobisign_auditor;
