-- mobisign 1.0 install script, assembled from sql/parts/*.sql in file-name order.
-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION mobisign" to load this file. \quit

-- Tables and internals live in schema mobisign; the API functions live in the
-- extension's schema (@extschema@, usually public) so that applications call
-- them by their plain names.
CREATE SCHEMA mobisign;
COMMENT ON SCHEMA mobisign IS 'mobisign state: PKIs, users, SIM keys, transactions, queue, caches and the audit trail';

-- The roles are cluster-wide; they outlive the extension on purpose
-- (grants made to login roles must not vanish with a DROP EXTENSION).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'mobisign_admin') THEN
        CREATE ROLE mobisign_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'mobisign_app') THEN
        CREATE ROLE mobisign_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'mobisign_auditor') THEN
        CREATE ROLE mobisign_auditor NOLOGIN;
    END IF;
    -- removes old transactions and audit rows (mobisign_purge), nothing else:
    -- administrators cannot erase the audit of their own changes
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'mobisign_purger') THEN
        CREATE ROLE mobisign_purger NOLOGIN;
    END IF;
END
$roles$;

REVOKE ALL ON SCHEMA mobisign FROM PUBLIC;
GRANT USAGE ON SCHEMA mobisign TO mobisign_admin, mobisign_app, mobisign_auditor;

-- ETSI TS 102 204 status codes, so that integrators recognise them.
CREATE TABLE mobisign.status_code (
    code        integer PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    final       boolean NOT NULL,
    description text NOT NULL
);
INSERT INTO mobisign.status_code VALUES
    (100, 'REQUEST_OK', false, 'accepted, not final'),
    (101, 'WRONG_PARAM', true, 'a parameter is wrong'),
    (102, 'MISSING_PARAM', true, 'a parameter is missing'),
    (103, 'WRONG_DATA_LENGTH', true, 'the text does not fit the SIM''s screen or the data is too long'),
    (105, 'UNKNOWN_CLIENT', true, 'the user is not in the register or a directory'),
    (208, 'EXPIRED_TRANSACTION', true, 'no answer before the transaction expired'),
    (209, 'OTA_ERROR', true, 'the SMSC refused, delivery failed or the secured packet was rejected'),
    (401, 'USER_CANCEL', true, 'the user declined on the phone'),
    (402, 'PIN_NR_BLOCKED', true, 'the signing PIN is blocked'),
    (403, 'CARD_BLOCKED', true, 'the SIM card is blocked'),
    (404, 'NO_KEY_FOUND', true, 'the SIM has no key for the request'),
    (406, 'PB_SIGNATURE_PROCESS', true, 'SIM-side failure, or a second open request for the same user'),
    (422, 'NO_CERT_FOUND', true, 'no certificate or issuer could be found'),
    (424, 'CRL_EXPIRED', true, 'revocation data is missing or stale beyond the PKI''s grace'),
    (425, 'ERROR_CERTIFICATE', true, 'the certificate path is invalid'),
    (501, 'REVOKED_CERTIFICATE', true, 'the certificate is revoked'),
    (502, 'VALID_SIGNATURE', true, 'success'),
    (503, 'INVALID_SIGNATURE', true, 'the signature does not verify, or signs something else'),
    (900, 'INTERNAL_ERROR', true, 'anything else; the audit has the detail');
