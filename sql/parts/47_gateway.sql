-- What the HTTP gateway (gateway/mobisign-gateway, docs/gateway.md) needs
-- beyond the application API: relying parties, registered by an
-- administrator and checked on every call, and finding a registered user
-- by MSISDN and national identity number (Mobile-ID's phoneNumber and
-- nationalIdentityNumber).  The gateway logs in as an application role:
-- these functions are all it may call besides the application API.

-- A relying party: its name (shown nowhere but the audit; the application
-- label of its transactions) and the UUID its clients send.
CREATE FUNCTION mobisign_add_relying_party(name text, uuid uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_name ALIAS FOR name;
    p_uuid ALIAS FOR uuid;
BEGIN
    PERFORM mobisign._check_input('application', p_name, required_as => 'name');
    IF p_uuid IS NULL THEN
        RAISE EXCEPTION 'uuid is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    BEGIN
        INSERT INTO mobisign.relying_party (name, uuid) VALUES (p_name, p_uuid);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'relying party "%" exists already', p_name
            USING ERRCODE = 'unique_violation';
    END;
    -- the UUID is a shared secret: never in the audit
    PERFORM mobisign.audit_log('relying_party.add', 'success',
        pg_catalog.jsonb_build_object('name', p_name));
END
$$;

-- Is (name, uuid) a registered relying party?  The name case-insensitively,
-- the UUID exactly; NULLs and over-long names are simply no.
CREATE FUNCTION mobisign_check_relying_party(name text, uuid uuid)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(mobisign._input_fits('application', $1), false)
           AND EXISTS (SELECT FROM mobisign.relying_party r
                        WHERE pg_catalog.lower(r.name) = pg_catalog.lower($1) AND r.uuid = $2)
$$;

-- The registered, active user with this MSISDN (a leading "+" or not)
-- whose certificate's subject serialNumber is national_identity_number
-- with an ETSI natural-person prefix (EN 319 412-1: "PNO" + country +
-- "-", e.g. PNOEE-38412319871): the user id and the certificate.  With
-- national_identity_number NULL (ETSI TS 102 204 names a user by MSISDN
-- alone) the MSISDN decides.  No row when none (or the number is no
-- MSISDN, or the identity number is not 1 to 20 letters and digits): the
-- caller cannot tell which part did not match.
CREATE FUNCTION mobisign_find_user(msisdn text, national_identity_number text,
                                   OUT user_id text, OUT certificate bytea)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.user_id, c.der
      FROM mobisign.app_user a
      JOIN mobisign.certificate c ON c.fingerprint = a.certificate_fingerprint
     WHERE mobisign._is_msisdn($1)
       AND pg_catalog.ltrim(a.msisdn, '+') = pg_catalog.ltrim($1, '+')
       AND a.status = 'active'
       AND ($2 IS NULL
            OR ($2 ~ '^[0-9A-Za-z]{1,20}$'
                AND (mobisign._cert_identity(c.der)).serial_number ~ ('^PNO[A-Z]{2}-' || $2 || '$')))
     ORDER BY a.user_id
     LIMIT 1
$$;

REVOKE ALL ON FUNCTION mobisign_add_relying_party(text, uuid),
    mobisign_check_relying_party(text, uuid), mobisign_find_user(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mobisign_add_relying_party(text, uuid) TO mobisign_admin;
GRANT EXECUTE ON FUNCTION mobisign_check_relying_party(text, uuid), mobisign_find_user(text, text)
    TO mobisign_app;
