-- The SIM channel, key migration: every stored OTA key wrapped with a master
-- key file is wrapped again with the master key in a PKCS#11 token
-- (mobisign_rewrap_keys, superuser only; docs/operations.md, "Keys in a
-- token").  The first byte of a wrapped key says which master key wrapped
-- it (1: a file, 2: the token; extension/keystore.c; its C steps are declared
-- with the other key functions in 40_sim_declarations.sql).  One transaction: all
-- keys or none; a second run finds nothing to do and is refused.

CREATE FUNCTION mobisign_rewrap_keys(from_master_key_file text,
                                     OUT sim_keys bigint, OUT already_in_token bigint)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k      record;
    v_last timestamptz;
BEGIN
    IF from_master_key_file IS NULL OR from_master_key_file = '' THEN
        RAISE EXCEPTION 'from_master_key_file is required'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Name the master key file the stored keys were wrapped with.';
    END IF;
    IF NOT mobisign._master_key_in_token() THEN
        RAISE EXCEPTION 'mobisign.master_key_file does not name a key in a token'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Set mobisign.master_key_file to the pkcs11: URI of the token''s master key (and mobisign.pkcs11_module, mobisign.pkcs11_pin_file), reload, then re-wrap.';
    END IF;
    IF coalesce(pg_catalog.current_setting('mobisign.pkcs11_module', true), '') = '' THEN
        RAISE EXCEPTION 'mobisign.pkcs11_module is not set'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Set mobisign.pkcs11_module to the token''s PKCS#11 module and mobisign.pkcs11_pin_file to a file holding its PIN, reload, then re-wrap.';
    END IF;
    -- one run at a time; requests and registrations wait until it is done
    LOCK TABLE mobisign.sim_key IN SHARE ROW EXCLUSIVE MODE;
    SELECT count(*) FILTER (WHERE pg_catalog.get_byte(s.kic_wrapped, 0) = 1
                               OR pg_catalog.get_byte(s.kid_wrapped, 0) = 1),
           count(*) FILTER (WHERE pg_catalog.get_byte(s.kic_wrapped, 0) <> 1
                              AND pg_catalog.get_byte(s.kid_wrapped, 0) <> 1)
      INTO sim_keys, already_in_token
      FROM mobisign.sim_key s;
    IF sim_keys = 0 THEN
        SELECT max(a.at) INTO v_last FROM mobisign.audit a WHERE a.operation = 'sim_key.rewrap';
        RAISE EXCEPTION 'no stored SIM key is wrapped with a master key file'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = CASE WHEN v_last IS NULL
                                THEN pg_catalog.format('All %s key sets are wrapped by the token.', already_in_token)
                                ELSE pg_catalog.format('The keys were re-wrapped at %s; all %s key sets are wrapped by the token.',
                                                       v_last, already_in_token) END,
                  HINT = 'Nothing to do: the migration has run.';
    END IF;
    PERFORM mobisign._progress_phase('rewrap_keys', 'rewrapping', sim_keys);
    FOR k IN SELECT s.msisdn, s.key_set, s.kic_wrapped, s.kid_wrapped FROM mobisign.sim_key s
              WHERE pg_catalog.get_byte(s.kic_wrapped, 0) = 1 OR pg_catalog.get_byte(s.kid_wrapped, 0) = 1
              ORDER BY s.msisdn, s.key_set
    LOOP
        UPDATE mobisign.sim_key s
           SET kic_wrapped = CASE WHEN pg_catalog.get_byte(k.kic_wrapped, 0) = 1
                                  THEN mobisign._key_rewrap(k.msisdn, k.key_set, 'kic', k.kic_wrapped, from_master_key_file)
                                  ELSE k.kic_wrapped END,
               kid_wrapped = CASE WHEN pg_catalog.get_byte(k.kid_wrapped, 0) = 1
                                  THEN mobisign._key_rewrap(k.msisdn, k.key_set, 'kid', k.kid_wrapped, from_master_key_file)
                                  ELSE k.kid_wrapped END
         WHERE s.msisdn = k.msisdn AND s.key_set = k.key_set;
        PERFORM mobisign._progress_advance(1);
    END LOOP;
    PERFORM mobisign._progress_phase('rewrap_keys', 'done', sim_keys, sim_keys);
    PERFORM mobisign.audit_log('sim_key.rewrap', 'success', pg_catalog.jsonb_build_object(
        'sim_keys', sim_keys, 'already_in_token', already_in_token,
        'from', from_master_key_file,
        'to', pg_catalog.current_setting('mobisign.master_key_file')));
END
$$;
COMMENT ON FUNCTION mobisign_rewrap_keys(text) IS
    'wraps every stored SIM OTA key wrapped with the master key file from_master_key_file again with the token''s master key (mobisign.master_key_file, a pkcs11: URI), all in one transaction; refused when there is nothing left to re-wrap';

-- Superuser only: the migration to nobody
REVOKE ALL ON FUNCTION mobisign_rewrap_keys(text) FROM PUBLIC;
