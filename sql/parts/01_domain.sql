-- The domain facts, each with one home that SQL and C both read:
--
--   status codes        C (extension/domain.h, MS_STATUS_LIST): the rows of
--                       mobisign.status_code are inserted from it here
--   SIM result status   C (domain.h, MS_SIM_RESULT_LIST): _sim_result_status()
--   MSISDN              C (the codec's msc_smpp_msisdn_check, which the worker
--                       applies to every received SMS): _is_msisdn(), the
--                       domain mobisign.msisdn
--   OTA counter limit   C (the codec's MSC_OTA_COUNTER_MAX): _ota_counter_max()
--   open states         SQL: _is_open(), which extension/sim_wait.c calls
--   transaction kinds   C (domain.h, MS_KIND_LIST): _is_kind(),
--                       _kind_signs_digest(), _answer_outcome()
--   digest lengths and  C (the codec's msc_digest_hash_name and
--   verification code   msc_digest_verification_code): _digest_hash_name(),
--                       _digest_verification_code()
--   PKI profiles        SQL: the domain mobisign.pki_profile (C reads the
--                       column: extension/pki_store.c)
--
-- test/pgtap/09_domain.sql checks that SQL and C agree.

-- ETSI TS 102 204 status codes, so that integrators recognise them, and 410
-- (an application's cancel: TS 102 204 has no code for it, 401 is the user
-- declining on the phone).
CREATE FUNCTION mobisign._status_codes(OUT code integer, OUT name text, OUT final boolean,
                                       OUT description text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ms_status_codes'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;

CREATE TABLE mobisign.status_code (
    code        integer PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    final       boolean NOT NULL,
    description text NOT NULL
);
INSERT INTO mobisign.status_code (code, name, final, description)
SELECT s.code, s.name, s.final, s.description FROM mobisign._status_codes() s ORDER BY s.code;

-- What the C code names a status code (INTERNAL_ERROR for an unknown code).
CREATE FUNCTION mobisign._status_name(code integer)
RETURNS text
AS 'MODULE_PATHNAME', 'ms_status_name_sql'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- The final status of a transaction whose SIM answered with an applet
-- result other than OK (NULL for OK: the signature decides).
CREATE FUNCTION mobisign._sim_result_status(result integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'ms_sim_result_status_sql'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- Is value an MSISDN: an optional "+" and 5 to 15 digits (E.164 allows 15)?
CREATE FUNCTION mobisign._is_msisdn(value text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ms_is_msisdn'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

CREATE DOMAIN mobisign.msisdn AS text
    CONSTRAINT msisdn_check CHECK (mobisign._is_msisdn(VALUE));
COMMENT ON DOMAIN mobisign.msisdn IS 'a mobile number: an optional "+" and 5 to 15 digits';

-- 22023 with the rule in the detail unless value is an MSISDN.
CREATE FUNCTION mobisign._check_msisdn(value text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT mobisign._is_msisdn(value) THEN
        RAISE EXCEPTION 'invalid MSISDN'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'An MSISDN is 5 to 15 digits in international format, optionally with a leading "+".';
    END IF;
END
$$;

-- The largest OTA counter (5 octets: 2^40-1); a key set that reached it
-- must be replaced.
CREATE FUNCTION mobisign._ota_counter_max()
RETURNS bigint
AS 'MODULE_PATHNAME', 'ms_ota_counter_max'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Is a transaction in this state still open (waiting to be sent, or for the
-- SIM's answer)? Every other state is final. IMMUTABLE: the partial indexes
-- on open transactions and the table's CHECK use it. In C (MS_OPEN_STATES in
-- extension/domain.h): it runs several times on every write of a transaction.
CREATE FUNCTION mobisign._is_open(state text)
RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'ms_is_open';

-- A PKI's verification profile (docs/verification.md, "Profiles"): 'strict'
-- adds the RFC 5280 rules of extension/strict_profile.h to OpenSSL's path
-- validation; 'compatible' is OpenSSL's path validation alone.
CREATE DOMAIN mobisign.pki_profile AS text
    CONSTRAINT pki_profile_check CHECK (VALUE IN ('strict', 'compatible'));
COMMENT ON DOMAIN mobisign.pki_profile IS 'a PKI''s verification profile: strict (RFC 5280 rules beyond OpenSSL''s) or compatible';

-- 22023 unless profile is one of the domain mobisign.pki_profile.
CREATE FUNCTION mobisign._check_pki_profile(profile text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM profile::mobisign.pki_profile;
    IF profile IS NULL THEN
        RAISE EXCEPTION 'profile must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
EXCEPTION WHEN check_violation THEN
    RAISE EXCEPTION 'invalid PKI profile "%"', profile
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Use ''strict'' (RFC 5280 rules beyond OpenSSL''s) or ''compatible'' (OpenSSL''s path validation alone).';
END
$$;

-- The kinds of transaction (mobisign.transaction.kind): authenticate, sign,
-- the two that sign a digest the application gives, and receipt (a message
-- shown after a completed signature, nothing signed).
CREATE FUNCTION mobisign._is_kind(kind text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ms_is_kind'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION mobisign._kind_signs_digest(kind text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ms_kind_signs_digest'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- What the SIM's applet result ends a transaction of this kind with: NULL
-- state and status when the signature decides (a signing kind's OK);
-- ('completed', 100) for a receipt the phone showed; else ('failed', the
-- result's status: 401 user cancel, ...; a result of another operation,
-- such as a signature answering a receipt, 406).
CREATE FUNCTION mobisign._answer_outcome(kind text, result integer, OUT state text, OUT status integer)
RETURNS record
AS 'MODULE_PATHNAME', 'ms_answer_outcome'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- 'SHA256', 'SHA384' or 'SHA512' for a digest of 32, 48 or 64 octets; NULL
-- for another length.
CREATE FUNCTION mobisign._digest_hash_name(length integer)
RETURNS text
AS 'MODULE_PATHNAME', 'ms_digest_hash_name'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

-- The Mobile-ID verification code of a digest (6 bits from its start, 7
-- from its end, 4 digits).
CREATE FUNCTION mobisign._digest_verification_code(digest bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'ms_digest_verification_code'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
