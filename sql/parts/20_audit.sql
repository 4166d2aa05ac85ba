-- The audit trail (README.md, "The audit trail").
--
-- Writers only INSERT: they never wait on one another. Rows are chained later,
-- in commit order, by mobisign.audit_seal(): each sealed row gets the next
-- chain_seq, prev_hash = the hash of the row sealed before it, and
-- hash = SHA-256(prev_hash || canonical row). One sealer runs at a time (its
-- row of mobisign.process_lock, which no other role can lock); the worker seals continuously and mobisign_audit_verify()
-- seals what is pending before it checks. A row committed late is simply
-- sealed later: the chain order is chain_seq, not id.
CREATE TABLE mobisign.audit (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor          name NOT NULL DEFAULT session_user,
    application    text,
    operation      text NOT NULL,
    transaction_id uuid,
    outcome        text NOT NULL,
    detail         jsonb NOT NULL DEFAULT '{}',
    chain_seq      bigint,
    prev_hash      bytea,
    hash           bytea,
    CHECK ((chain_seq IS NULL) = (hash IS NULL) AND (hash IS NULL) = (prev_hash IS NULL))
);
-- Index entries are written on every request (two audit rows) and again by
-- the seal (a non-HOT UPDATE), so the table has only the ones a query needs
-- (docs/operations.md, "Indexes of the request path").  A chain position is
-- unique: a partial unique index, so that the unsealed rows (NULL, never in
-- conflict) have no entry; the chain check reads the chain through it
-- (extension/audit_chain.c), the purge and the verification find positions
-- by it.  audit_at is a BRIN index: rows are inserted in time order, and a
-- query by time reads a range of blocks (the purge's cutoff position is
-- found through audit_chain_seq_key).
CREATE UNIQUE INDEX audit_chain_seq_key ON mobisign.audit (chain_seq) WHERE chain_seq IS NOT NULL;
CREATE INDEX audit_unsealed ON mobisign.audit (id) WHERE chain_seq IS NULL;
CREATE INDEX audit_transaction ON mobisign.audit (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX audit_at ON mobisign.audit USING brin (at) WITH (autosummarize = on);
-- Sealing updates every row once: the old versions (and their entries in
-- audit_unsealed, which the sealer scans) are vacuumed after a fixed number
-- of them, not after a fifth of a table that only grows.
ALTER TABLE mobisign.audit SET (autovacuum_vacuum_scale_factor = 0,
                                autovacuum_vacuum_threshold = 10000);
COMMENT ON TABLE mobisign.audit IS 'append-only, hash-chained audit trail; check it with mobisign_audit_verify()';

-- The UTF-8 bytes of a text without ever raising an error (extension/text_bytes.c):
-- _utf8 is NULL for a text that has no UTF-8 form (bytes that C code stored
-- unchecked); _utf8_or_stored then gives the bytes as stored.
CREATE FUNCTION mobisign._utf8(t text)
RETURNS bytea
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mobisign_utf8';

CREATE FUNCTION mobisign._utf8_or_stored(t text)
RETURNS bytea
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mobisign_utf8_or_stored';

-- The digest of a row: SHA-256(prev || the row's canonical form). The
-- canonical form (extension/audit_canon.h, its one home) is the text of
-- jsonb_build_array(id, at in microseconds since the Unix epoch, actor,
-- application, operation, transaction_id, outcome, detail, chain_seq), so
-- that DateStyle and TimeZone do not matter, in UTF-8. A row whose text has
-- no UTF-8 form (it cannot be written through audit_log, but may predate it)
-- is hashed as stored, so that one bad row never stops the seal nor
-- mobisign_audit_verify(): it is sealed and verified like any other.
CREATE FUNCTION mobisign.audit_digest(prev bytea, a mobisign.audit)
RETURNS bytea
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ms_audit_digest';

-- A text as the audit stores it: itself if it has a UTF-8 form, else
-- 'hex:' and its stored bytes in hex (never an error, never bytes that a
-- client or a later conversion would choke on).
CREATE FUNCTION mobisign._audit_text(t text)
RETURNS text
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mobisign_audit_text';

-- Append one row. Internal: called by the extension's own functions only.
-- Every text is stored with a UTF-8 form (mobisign._audit_text); a detail
-- whose text has none is replaced by {"unreadable_detail": "hex:..."}.
-- In C (extension/audit_log.c): every verification writes a row, through the
-- executor's simple-insert path (extension/audit_insert.c: this table's
-- defaults, constraints and indexes, the INSERT privilege), or an INSERT
-- planned once per backend when the table has an INSERT trigger or RLS.
CREATE FUNCTION mobisign.audit_log(operation text, outcome text, detail jsonb DEFAULT '{}',
                                   transaction_id uuid DEFAULT NULL, application text DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mobisign_audit_log';

-- Refuse UPDATE (except the one-time sealing of an unsealed row, which may not
-- touch the content), DELETE (except by the retention function) and TRUNCATE.
-- Roles other than the owner have no such privileges in the first place; the
-- triggers also stop the extension's own SECURITY DEFINER code from rewriting
-- history by mistake.
CREATE FUNCTION mobisign.audit_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
           AND (OLD.id, OLD.at, OLD.actor, OLD.application, OLD.operation,
                OLD.transaction_id, OLD.outcome, OLD.detail)
               IS NOT DISTINCT FROM
               (NEW.id, NEW.at, NEW.actor, NEW.application, NEW.operation,
                NEW.transaction_id, NEW.outcome, NEW.detail)
           AND pg_catalog.current_setting('mobisign_audit.sealing', true) = 'on' THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF pg_catalog.current_setting('mobisign_audit.purging', true) = 'on' THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s on mobisign.audit is refused.', TG_OP),
              HINT = 'Audit rows are written by mobisign''s functions and removed only by mobisign_purge().';
END
$$;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON mobisign.audit
    FOR EACH ROW EXECUTE FUNCTION mobisign.audit_guard();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON mobisign.audit
    FOR EACH ROW EXECUTE FUNCTION mobisign.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON mobisign.audit
    FOR EACH STATEMENT EXECUTE FUNCTION mobisign.audit_guard();

-- Seal pending rows into the chain, in id order, up to max_rows at a time
-- (extension/audit_chain.c: batches of 5,000 rows, one UPDATE each).
-- Returns the number of rows sealed.
CREATE FUNCTION mobisign.audit_seal(max_rows integer DEFAULT 10000)
RETURNS bigint
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ms_audit_seal';

-- The sealed rows in chain order from position first_seq on, the first
-- linked to anchor (extension/audit_chain.c: the table read directly, in
-- physical order while that is the chain order, then through the chain_seq
-- index): intact is false at the first
-- row whose position, link or hash is wrong.
CREATE FUNCTION mobisign._audit_chain_check(first_seq bigint, anchor bytea,
                                            OUT intact boolean, OUT rows_checked bigint,
                                            OUT first_broken_id bigint, OUT first_broken_seq bigint,
                                            OUT reason text, OUT head_hash bytea)
RETURNS record
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'ms_audit_chain_check';

-- Recompute the chain. intact is false at the first row whose link or hash
-- does not match; first_broken_id names it.
CREATE FUNCTION mobisign_audit_verify(OUT intact boolean, OUT rows_checked bigint,
                                      OUT first_broken_id bigint, OUT first_broken_seq bigint,
                                      OUT reason text, OUT head_hash bytea)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expect    bytea := '\x'::bytea;
    want_seq  bigint := 1;
BEGIN
    -- a hot standby cannot seal (read-only): it verifies the chain as far as
    -- the primary has sealed it (rows_checked says how far)
    IF NOT pg_catalog.pg_is_in_recovery() THEN
        PERFORM mobisign._progress_phase('audit_verify', 'sealing',
            (SELECT pg_catalog.count(*) FROM mobisign.audit a WHERE a.chain_seq IS NULL));
        PERFORM mobisign.audit_seal(2147483647);
    END IF;
    intact := true;
    rows_checked := 0;
    -- after a purge the chain starts later: its anchor is the hash that the
    -- purge recorded for the last row it removed
    SELECT min(a.chain_seq) INTO want_seq FROM mobisign.audit a WHERE a.chain_seq IS NOT NULL;
    want_seq := coalesce(want_seq, 1);
    IF want_seq > 1 THEN
        SELECT pg_catalog.decode(a.detail->>'anchor_hash', 'hex') INTO expect
          FROM mobisign.audit a
         WHERE a.operation = 'purge' AND (a.detail->>'purged_through_seq')::bigint = want_seq - 1
         ORDER BY a.id DESC LIMIT 1;
        IF expect IS NULL THEN
            intact := false;
            reason := pg_catalog.format('rows before chain position %s are missing and no purge accounts for them', want_seq);
            SELECT a.id, a.chain_seq INTO first_broken_id, first_broken_seq
              FROM mobisign.audit a WHERE a.chain_seq = want_seq;
            RETURN;
        END IF;
    END IF;
    PERFORM mobisign._progress_phase('audit_verify', 'checking',
        (SELECT pg_catalog.max(a.chain_seq) - want_seq + 1 FROM mobisign.audit a));
    SELECT * INTO intact, rows_checked, first_broken_id, first_broken_seq, reason, head_hash
      FROM mobisign._audit_chain_check(want_seq, expect);
    PERFORM mobisign._progress_phase('audit_verify', 'done', rows_checked, rows_checked);
END
$$;
COMMENT ON FUNCTION mobisign_audit_verify() IS 'seals pending audit rows (not on a hot standby), then recomputes the hash chain; reports the first broken row';
