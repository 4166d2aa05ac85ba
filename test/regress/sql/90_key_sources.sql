--
-- Key sources: the service provider's key and the master key are files, or
-- keys in a PKCS#11 token named by pkcs11: URIs (RFC 7512) in the same
-- settings (docs/operations.md, "Keys in a token").  This suite shows what
-- an operator sees without a token at hand: how the URIs are checked when
-- they are set, who may read the PKCS#11 settings, and the refusals of the
-- migration mobisign_rewrap_keys().  With a token (SoftHSM2), the
-- migration itself, signing and unwrapping in the token, a lost token and a
-- wrong PIN are shown by test/e2e/60_hsm.sh.
--
-- Refusals of ALTER SYSTEM are shown as psql prints them (ALTER SYSTEM
-- cannot run inside a function); the others with refusal() of 00_setup:
-- SQLSTATE, message, detail and hint.

------------------------------------------------------------------------------
-- 1. A pkcs11: URI is checked when it is set
------------------------------------------------------------------------------

-- A well-formed URI names the token by its label and the key by its label
-- (object=) or id (id=, percent-encoded bytes); type= says which kind.  It
-- is accepted (and reset again: this suite changes no setting).
ALTER SYSTEM SET mobisign.sp_key_file = 'pkcs11:token=mobisign;object=sp-key;type=private';
ALTER SYSTEM SET mobisign.master_key_file = 'pkcs11:token=mobisign;id=%01;type=secret-key';
ALTER SYSTEM RESET mobisign.sp_key_file;
ALTER SYSTEM RESET mobisign.master_key_file;

-- A PIN never sits in a setting: the URI's query (pin-value, module-path)
-- is refused, with the settings that take them instead.
ALTER SYSTEM SET mobisign.sp_key_file = 'pkcs11:token=mobisign;object=sp-key?pin-value=1234';

-- Attributes mobisign does not use are refused rather than ignored, and so
-- are broken escapes, a URI that names no key, and values beyond the
-- bounds (a token label holds at most 32 bytes).
ALTER SYSTEM SET mobisign.master_key_file = 'pkcs11:token=mobisign;object=master;serial=42';
ALTER SYSTEM SET mobisign.master_key_file = 'pkcs11:object=master%2';
ALTER SYSTEM SET mobisign.master_key_file = 'pkcs11:token=mobisign';
ALTER SYSTEM SET mobisign.sp_key_file = 'pkcs11:token=mobisign;object=a;object=b';
ALTER SYSTEM SET mobisign.sp_key_file = 'pkcs11:object=k;type=secret';
ALTER SYSTEM SET mobisign.sp_key_file = 'pkcs11:object=k;token=0123456789abcdef0123456789abcdefX';

-- A path is not a URI: it is not checked when set (the file is read on
-- every use, errors then name the setting).
ALTER SYSTEM SET mobisign.sp_key_file = '/etc/mobisign/sp.key';
ALTER SYSTEM RESET mobisign.sp_key_file;

------------------------------------------------------------------------------
-- 2. The PKCS#11 settings are the superuser's
------------------------------------------------------------------------------

-- mobisign.pkcs11_module (the token's shared library) and
-- mobisign.pkcs11_pin_file (the file holding its PIN) are read by no
-- other role.
CREATE ROLE regress_keys_admin LOGIN IN ROLE mobisign_admin;
SET SESSION AUTHORIZATION regress_keys_admin;
SELECT * FROM refusal($$ SHOW mobisign.pkcs11_module $$);
SELECT * FROM refusal($$ SHOW mobisign.pkcs11_pin_file $$);
SELECT count(*) AS visible_pkcs11_settings FROM pg_settings WHERE name LIKE 'mobisign.pkcs11%';
RESET SESSION AUTHORIZATION;
SELECT name, context FROM pg_settings WHERE name LIKE 'mobisign.pkcs11%' ORDER BY name;

------------------------------------------------------------------------------
-- 3. mobisign_rewrap_keys(): moving the stored OTA keys into the token
------------------------------------------------------------------------------

-- It re-wraps every key wrapped with a master key file (the argument) with
-- the token's master key (mobisign.master_key_file, a pkcs11: URI).  A
-- superuser's function: no mobisign role may call it.
SET SESSION AUTHORIZATION regress_keys_admin;
SELECT * FROM refusal($$ SELECT mobisign_rewrap_keys('/etc/mobisign/master.key') $$);
RESET SESSION AUTHORIZATION;

-- The source file is required.
SELECT * FROM refusal($$ SELECT mobisign_rewrap_keys(NULL) $$);

-- While mobisign.master_key_file names a file, there is no token to move
-- the keys to: refused before anything is read, with what to do.
SELECT * FROM refusal($$ SELECT mobisign_rewrap_keys('/etc/mobisign/master.key') $$);

DROP ROLE regress_keys_admin;
