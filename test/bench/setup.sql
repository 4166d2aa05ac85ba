-- make bench and test/bench/profile.sh: the PKIs gamma (all P-256) and delta
-- (all RSA-2048) with their CRLs, and bench(op, who, secs), a timed loop of
-- one verification.  psql -v fx=FIXTURE_DIR (test/fixtures/generate.sh).
CREATE TABLE fx AS SELECT f AS name, pg_read_binary_file(:'fx' || '/' || f) AS data
  FROM pg_ls_dir(:'fx') f WHERE f ~ '\.(der|p7s|txt|sig)$';
-- fx(name): the file's bytes as a value in memory (|| copies it): a larger
-- file is stored TOASTed, and a variable holding its TOAST pointer would be
-- fetched from the TOAST table again by every call that reads it.
CREATE FUNCTION fx(n text) RETURNS bytea LANGUAGE sql STABLE AS $$ SELECT data || '\x'::bytea FROM fx WHERE name = n $$;
SELECT mobisign_add_pki(p, ARRAY[fx(p || '-root.der')], intermediates => ARRAY[fx(p || '-int.der')]),
       mobisign_add_crl(p, fx(p || '-root.crl.der')), mobisign_add_crl(p, fx(p || '-int.crl.der'))
  FROM unnest(ARRAY['gamma', 'delta']) p;
-- The CPU time this backend has run, in seconds: the first field of
-- /proc/self/schedstat (nanoseconds on a CPU; the server reads the file, so
-- self is this backend), NULL where the kernel does not keep it.
CREATE FUNCTION backend_cpu_seconds() RETURNS float8 LANGUAGE sql VOLATILE AS $$
    SELECT nullif(split_part(pg_read_file('/proc/self/schedstat', 0, 200, true), ' ', 1), '')::float8 / 1e9
$$;
-- a timed loop: how many calls of one operation fit in the given time, per
-- second of elapsed time and per second of this backend's CPU time (what the
-- calls cost, whatever else the machine runs meanwhile: the reference
-- measures both the same way); the arguments are fetched once, so only the
-- call itself is measured.  who is the user (gina-ec: P-256 under gamma,
-- dora-rsa: RSA-2048 under delta).
CREATE FUNCTION bench(op text, who text, secs float8,
                      OUT per_second float8, OUT per_cpu_second float8) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp(); cpu0 float8 := backend_cpu_seconds(); n bigint := 0; ok boolean;
    pki text := CASE who WHEN 'gina-ec' THEN 'gamma' ELSE 'delta' END;
    alg text := CASE who WHEN 'gina-ec' THEN 'ecdsa-sha256' ELSE 'rsa-pkcs1-sha256' END;
    usercert bytea := fx(who || '.der');
    -- the CMS form a SIM sends (detached, no certificates, no
    -- SMIMECapabilities: test/sim/card.c), verified as an answer is, against
    -- the registered certificate given separately
    p7s bytea := fx(split_part(who, '-', 1) || '-sim.p7s');
    -- the form make bench measured before (openssl cms -sign defaults, the
    -- intermediate embedded, an SMIMECapabilities attribute; the signer
    -- found in the signature): op cms_verify_embedded, for comparison only
    p7s_embedded bytea := fx(split_part(who, '-', 1) || '-detached-chain.p7s');
    raw bytea := fx(split_part(who, '-', 1) || '-raw-sha256.sig');
    content bytea := fx('content.txt');
BEGIN
    LOOP
        CASE op
            WHEN 'validate' THEN
                SELECT valid INTO ok FROM mobisign_validate_certificate(usercert, pki => pki);
            WHEN 'validate_noaudit' THEN
                SELECT valid INTO ok FROM mobisign._validate_certificate(usercert, NULL, pki, NULL);
            WHEN 'cms_verify' THEN
                SELECT valid INTO ok FROM mobisign_verify(p7s, content, usercert, pki => pki);
            WHEN 'cms_verify_noaudit' THEN
                SELECT valid INTO ok FROM mobisign._verify(p7s, content, usercert, pki, NULL);
            WHEN 'cms_verify_embedded' THEN
                SELECT valid INTO ok FROM mobisign_verify(p7s_embedded, content, pki => pki);
            WHEN 'raw_verify' THEN
                ok := mobisign_verify_signature(usercert, content, raw, alg);
            WHEN 'raw_verify_noaudit' THEN
                ok := mobisign._verify_signature(usercert, content, raw, alg);
        END CASE;
        IF NOT ok THEN RAISE EXCEPTION 'bench operation % (%) failed', op, who; END IF;
        n := n + 1;
        EXIT WHEN clock_timestamp() - t0 > make_interval(secs => secs);
    END LOOP;
    per_second := n / extract(epoch FROM clock_timestamp() - t0)::float8;
    per_cpu_second := n / (backend_cpu_seconds() - cpu0);
END $$;
