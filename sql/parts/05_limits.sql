-- Bounds of the API's text arguments and the superuser-only policy bounds
-- (extension/input_limits.c, extension/policy.c). Defined before the tables:
-- their CHECK constraints use mobisign._input_fits().
--
-- Every text argument an application or an administrator passes is checked
-- against its limit before it is used, stored, audited or echoed; a refused
-- value is never echoed. Application arguments are refused with their
-- TS 102 204 status (MS101, MS103), administrative ones with 22023.

-- ERROR when value breaks the limit called name (NULL passes).
CREATE FUNCTION mobisign._check_input(name text, value text, required_as text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'ms_check_input'
LANGUAGE C VOLATILE;

-- For CHECK constraints: does value keep the limit called name?
CREATE FUNCTION mobisign._input_fits(name text, value text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ms_input_fits'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Every limit, for applications and administrators to read.
CREATE FUNCTION mobisign_input_limits(OUT argument text, OUT meaning text, OUT max_characters integer,
                                      OUT printable_only boolean, OUT sqlstate text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ms_input_limits'
LANGUAGE C STRICT IMMUTABLE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mobisign_input_limits()
    IS 'the length limit of every text argument of the API, whether it must be printable, and the SQLSTATE of a refusal';

-- An interval argument as the duration it stands for: time only, a month
-- counted 30 days and a year 365.25 days (as extract(epoch)), clamped to
-- about 3,170 years (extension/policy.c).  Every interval an application or
-- the purge role gives is checked and applied as this one value: an
-- interval's comparison (a month is 30 days) and its addition to a
-- timestamp (calendar months) disagree, so that '1000 years -360000 days
-- 10 s' compares as 10 s and adds 14 years.
CREATE FUNCTION mobisign._duration(value interval)
RETURNS interval
AS 'MODULE_PATHNAME', 'ms_duration_sql'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- mobisign.max_timeout: the longest timeout of a request (PGC_SUSET)
CREATE FUNCTION mobisign._max_timeout()
RETURNS interval
AS 'MODULE_PATHNAME', 'ms_max_timeout_sql'
LANGUAGE C STRICT STABLE;

-- mobisign.min_retention: the shortest retention of mobisign_purge (PGC_SUSET)
CREATE FUNCTION mobisign._min_retention()
RETURNS interval
AS 'MODULE_PATHNAME', 'ms_min_retention_sql'
LANGUAGE C STRICT STABLE
SET search_path = pg_catalog, pg_temp;
