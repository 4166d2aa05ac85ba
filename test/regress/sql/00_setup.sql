--
-- Setup shared by every regression test.
--
-- The test PKIs come from test/fixtures/generate.sh, which test/run.sh runs
-- into a directory readable by the server and names in MOBISIGN_FIXTURES.
-- Every fixture file is loaded into the table fx(name, data); fx('x.der')
-- returns one file's bytes. See generate.sh for what each fixture is.
--
CREATE EXTENSION mobisign;

\getenv fxdir MOBISIGN_FIXTURES
CREATE TABLE fx (name text PRIMARY KEY, data bytea NOT NULL);
INSERT INTO fx
SELECT f, pg_read_binary_file(:'fxdir' || '/' || f)
  FROM pg_ls_dir(:'fxdir') AS f
 WHERE NOT (pg_stat_file(:'fxdir' || '/' || f)).isdir;

-- A fixture's bytes; a missing fixture is an error, not a silent NULL.
CREATE FUNCTION fx(fname text) RETURNS bytea
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d bytea;
BEGIN
    SELECT fx.data INTO d FROM fx WHERE fx.name = fname;
    IF d IS NULL THEN
        RAISE EXCEPTION 'no fixture named %', fname;
    END IF;
    RETURN d;
END
$$;

-- Run a statement that must fail; show its SQLSTATE, message and detail
-- (the statement's own effects are rolled back with it).
CREATE FUNCTION err(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' -- ' || d, ' -- '), '');
END
$$;

-- The same, showing the SQLSTATE only (where the message is not the point).
CREATE FUNCTION errcode(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- A refused statement's SQLSTATE, message, detail and hint, as columns
-- (err() shows no hint); any role may call it.
CREATE FUNCTION refusal(stmt text, OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    state := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;
GRANT EXECUTE ON FUNCTION refusal(text) TO PUBLIC;

-- Every fixture the tests use is there.
SELECT f AS missing_fixture
  FROM unnest(ARRAY[
    'alpha-root.der', 'alpha-root.pem', 'alpha-int.der', 'alpha-int.pem',
    'alice-rsa.der', 'alice-rsa.pem', 'bob-ec.der', 'carol-revoked.der', 'dave-expired.der',
    'erin-future.der', 'frank-keyenc.der', 'grace-sha1.der', 'henry-rsa1024.der',
    'beta-root.der', 'beta-root.pem', 'ivan-beta.der', 'mallory-self.der',
    'alpha-root.crl.der', 'alpha-int.crl.der', 'alpha-int.crl.pem', 'alpha-int-stale.crl.der',
    'beta-root.crl.der', 'alice-and-int.pem', 'alpha-chain.pem',
    'content.txt', 'other-content.txt',
    'alice-detached.p7s', 'alice-attached.p7s', 'alice-detached-nocerts.p7s',
    'alice-detached-chain.p7s', 'alice-attached-chain.p7s', 'bob-detached.p7s',
    'bob-detached-nocerts.p7s', 'bob-attached-chain.p7s', 'alice-sha1.p7s',
    'carol-detached-chain.p7s', 'dave-detached-chain.p7s', 'frank-detached-chain.p7s',
    'ivan-detached.p7s', 'mallory-attached.p7s', 'alice-tampered.p7s',
    'alice-raw-sha256.sig', 'alice-raw-pss-sha256.sig', 'bob-raw-sha256.sig',
    'alice.spki.der', 'bob.spki.der']) AS f
EXCEPT SELECT name FROM fx;

-- No private key is among them (keys live in a subdirectory).
SELECT count(*) AS private_keys_loaded FROM fx WHERE position('PRIVATE KEY'::bytea IN data) > 0;

-- An audit row's detail with the values that differ from run to run
-- (fingerprints, random references, times, generated ids, sizes of
-- signatures) replaced by "…": the keys stay, so the expected output shows
-- what is recorded without what is random.
CREATE FUNCTION masked(j jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(k, CASE WHEN v <> 'null' AND k = ANY (ARRAY[
               'certificate_sha256', 'reference', 'data_sha256', 'expires_at', 'cutoff',
               'anchor_hash', 'smsc_id', 'directory_id', 'segment_ids', 'segments', 'cms_bytes',
               'purged_through_seq', 'signing_time', 'message_ids'])
           THEN '"…"'::jsonb ELSE v END), '{}')
      FROM jsonb_each(j) e(k, v)
$$;

-- The audit rows written after row number `mark`, in order, masked; whether
-- each names a transaction (its id is random) and by which application.
CREATE FUNCTION audit_after(mark bigint)
RETURNS TABLE (actor name, application text, operation text, outcome text, tx boolean, detail jsonb)
LANGUAGE sql STABLE AS $$
    SELECT a.actor, a.application, a.operation, a.outcome, a.transaction_id IS NOT NULL, masked(a.detail)
      FROM mobisign.audit a WHERE a.id > mark ORDER BY a.id
$$;
