-- The SIM world of the digest and receipt suites (82_sign_hash, 84_receipt):
-- the server's key files (server_keys.sql), the regress roles, and the PKI
-- "sim" with its users and SIM keys, registered unless 80_sim_flow did
-- already.  Included with \i, so its lines and results appear in each
-- suite's expected output.
\set server_keys :regress_include '/server_keys.sql'
\i :server_keys
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';

CREATE ROLE regress_shop LOGIN IN ROLE mobisign_app;
CREATE ROLE regress_other_shop LOGIN IN ROLE mobisign_app;
CREATE ROLE regress_admin LOGIN IN ROLE mobisign_admin;

-- The PKI, its users and their SIM keys, unless 80_sim_flow registered
-- them already (the suite runs alone after 00_setup and 10_pki, or after
-- every other suite): what is shown is the same in both cases.
CREATE TABLE sim AS
SELECT m[1] AS user_id, m[2] AS msisdn, m[3]::integer AS key_set,
       decode(m[4], 'hex') AS kic, decode(m[5], 'hex') AS kid, decode(m[6], 'hex') AS tar
  FROM regexp_matches(pg_read_file(:'simdir' || '/sims'),
                      '^(user\d+) (\d+) (\d+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)$', 'gn') m;
\o /dev/null
SELECT mobisign_add_pki('sim', ARRAY[pg_read_binary_file(:'simdir' || '/ca/root.der')],
                        intermediates => ARRAY[pg_read_binary_file(:'simdir' || '/ca/issuing.der')])
 WHERE NOT EXISTS (SELECT FROM mobisign.pki WHERE name = 'sim');
SELECT mobisign_add_crl('sim', pg_read_binary_file(:'simdir' || '/crl/root.der')),
       mobisign_add_crl('sim', pg_read_binary_file(:'simdir' || '/crl/issuing.der'))
 WHERE NOT EXISTS (SELECT FROM mobisign.crl c JOIN mobisign.pki k ON k.id = c.pki_id WHERE k.name = 'sim');
SELECT mobisign_register_user(user_id, msisdn, 'sim',
                              pg_read_binary_file(:'simdir' || '/users/' || user_id || '/cert.der'))
  FROM sim WHERE NOT EXISTS (SELECT FROM mobisign.app_user a WHERE a.user_id = sim.user_id)
 ORDER BY user_id;
SELECT mobisign_add_sim_key(s.msisdn, s.key_set, s.kic, s.kid, s.tar)
  FROM sim s WHERE NOT EXISTS (SELECT FROM mobisign.sim_key k WHERE k.msisdn = s.msisdn)
 ORDER BY s.user_id;
\o
SELECT s.user_id, a.msisdn = s.msisdn AS registered, k.key_set IS NOT NULL AS sim_keys
  FROM sim s LEFT JOIN mobisign.app_user a USING (user_id) LEFT JOIN mobisign.sim_key k ON k.msisdn = s.msisdn
 ORDER BY s.user_id;
