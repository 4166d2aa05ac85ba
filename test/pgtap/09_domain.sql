-- One home for each domain fact (sql/parts/01_domain.sql, extension/domain.h):
-- the SQL the install script created and the C code the server runs must
-- agree on status codes, open states, the MSISDN rule, the OTA counter limit
-- and the status of each SIM applet result.
BEGIN;
SELECT plan(27);

------------------------------------------------------------------------------
-- Status codes: the table is filled from C; the C names agree with it
------------------------------------------------------------------------------
SELECT set_eq($$ SELECT code, name, final, description FROM mobisign.status_code $$,
              $$ SELECT code, name, final, description FROM mobisign._status_codes() $$,
              'mobisign.status_code holds exactly the rows of the C list (MS_STATUS_LIST)');
SELECT is_empty($$ SELECT code, name, mobisign._status_name(code) FROM mobisign.status_code
                    WHERE mobisign._status_name(code) <> name $$,
                'ms_status_name() names every code as mobisign.status_code does');
SELECT is(mobisign._status_name(410), 'REQUEST_CANCELLED',
          '410 (cancelled by the application) has its name in C too');
SELECT is(mobisign._status_name(999), 'INTERNAL_ERROR', 'a code not in the list is INTERNAL_ERROR');
SELECT is((SELECT array_agg(code ORDER BY code) FROM mobisign.status_code WHERE NOT final), ARRAY[100],
          'only 100 REQUEST_OK is not final');
SELECT throws_ok($$ SELECT mobisign._raise_status(410, 'a test') $$, 'MS410',
                 'status 410 REQUEST_CANCELLED: a test',
                 'a status raised from SQL carries SQLSTATE MSnnn and the name of the table');

------------------------------------------------------------------------------
-- Transaction states: the table's CHECK lists them all, _is_open() says
-- which are open, and every index and rule of open transactions uses it
------------------------------------------------------------------------------
CREATE TEMP TABLE states AS
SELECT m[1] AS state
  FROM pg_catalog.regexp_matches(
           (SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c
             WHERE c.conrelid = 'mobisign.transaction'::regclass AND c.conname = 'transaction_state_check'),
           '''([a-z]+)''', 'g') AS m;
SELECT set_eq($$ SELECT state FROM states $$,
              $$ VALUES ('queued'), ('submitted'), ('completed'), ('failed'), ('expired'), ('cancelled') $$,
              'a transaction is queued, submitted, completed, failed, expired or cancelled (no delivered)');
SELECT set_eq($$ SELECT state FROM states WHERE mobisign._is_open(state) $$,
              $$ VALUES ('queued'), ('submitted') $$,
              'queued and submitted are open, every other state is final');
SELECT is_empty($$
    SELECT i.indexrelid::regclass::text FROM pg_catalog.pg_index i
     WHERE i.indrelid = 'mobisign.transaction'::regclass
       AND i.indexrelid::regclass::text LIKE '%open%'
       AND pg_catalog.pg_get_expr(i.indpred, i.indrelid) <> 'mobisign._is_open(state)' $$,
    'every partial index of open transactions is WHERE mobisign._is_open(state)');
SELECT is((SELECT count(*) FROM pg_catalog.pg_index i
            WHERE i.indrelid = 'mobisign.transaction'::regclass
              AND pg_catalog.pg_get_expr(i.indpred, i.indrelid) = 'mobisign._is_open(state)'),
          3::bigint, 'one open request per user, expiry and answers by MSISDN use it');
SELECT ok(NOT mobisign._is_open('delivered'), 'delivered is no state (never set: removed)');
SELECT hasnt_column('mobisign', 'transaction', 'delivered_at', 'nor its time column');

------------------------------------------------------------------------------
-- MSISDN: the codec's rule (the worker checks every SMS with it) is the
-- SQL rule, through mobisign._is_msisdn() and the domain mobisign.msisdn
------------------------------------------------------------------------------
SELECT is_empty($$
    SELECT v, ok FROM (VALUES ('12345', true), ('+12345', true), ('123456789012345', true),
                              ('+358401234567', true), ('1234', false), ('+1234', false),
                              ('1234567890123456', false), ('+1234567890123456', false),
                              ('', false), ('+', false), ('++358401234', false), ('35840123+', false),
                              (' 358401234', false), ('358401234 ', false), ('3584O1234', false),
                              ('358401234' || chr(10), false), ('٣٥٨٤٠١٢٣٤', false)) AS s(v, ok)
     WHERE mobisign._is_msisdn(v) IS DISTINCT FROM ok $$,
    'an MSISDN is an optional "+" and 5 to 15 ASCII digits, nothing else');
SELECT throws_ok($$ SELECT '1234'::mobisign.msisdn $$, '23514', NULL,
                 'the domain mobisign.msisdn refuses what is not an MSISDN');
SELECT is('+358401234567'::mobisign.msisdn::text, '+358401234567', 'and keeps an MSISDN as it is');
SELECT is((SELECT count(*) FROM pg_catalog.pg_attribute a
            WHERE a.attrelid IN ('mobisign.app_user'::regclass, 'mobisign.transaction'::regclass)
              AND a.attname = 'msisdn' AND a.atttypid = 'mobisign.msisdn'::regtype),
          2::bigint, 'the register''s and the transactions'' msisdn columns are of the domain');
SELECT throws_ok($$ SELECT mobisign._check_msisdn('+35840abc') $$, '22023', 'invalid MSISDN',
                 'the API''s check says "invalid MSISDN" (22023)');

------------------------------------------------------------------------------
-- The OTA counter: 5 octets
------------------------------------------------------------------------------
SELECT is(mobisign._ota_counter_max(), (2::numeric ^ 40 - 1)::bigint, 'the largest OTA counter is 2^40-1');
SELECT ok((SELECT pg_catalog.pg_get_constraintdef(c.oid) LIKE '%mobisign._ota_counter_max()%'
             FROM pg_catalog.pg_constraint c
            WHERE c.conrelid = 'mobisign.sim_key'::regclass AND c.conname = 'sim_key_counter_check'),
          'mobisign.sim_key.counter is bounded by it');
SELECT is(mobisign._counter_after_restore(mobisign._ota_counter_max() - 5, 1000), mobisign._ota_counter_max(),
          'a counter advanced after a restore saturates at it');

------------------------------------------------------------------------------
-- The SIM's applet result (codec/applet.h MSC_RESULT_*) and the
-- transaction's final status (docs/sim-channel.md)
------------------------------------------------------------------------------
SELECT is_empty($$
    SELECT result, status, mobisign._sim_result_status(result)
      FROM (VALUES (0, NULL), (1, 401), (2, 402), (3, 403), (4, 404), (5, 406), (6, 209), (7, 209),
                   (8, 406), (255, 406)) AS m(result, status)
     WHERE mobisign._sim_result_status(result) IS DISTINCT FROM status $$,
    'OK: the signature decides; cancel 401, PIN 402, card 403, no key 404, SIM error 406, '
    'request signature refused or expired 209, anything else 406');
SELECT is_empty($$
    SELECT r FROM pg_catalog.generate_series(0, 255) r
     WHERE NOT EXISTS (SELECT FROM mobisign.status_code s
                        WHERE s.code = coalesce(mobisign._sim_result_status(r), 502) AND s.final) $$,
    'every result ends a transaction with a final status of the table');

-- The PKI profiles: the domain mobisign.pki_profile holds the list; the
-- column uses it, a new PKI is strict, and _check_pki_profile() refuses
-- anything else with 22023.
SELECT lives_ok($$ SELECT 'strict'::mobisign.pki_profile $$, 'strict is a profile');
SELECT lives_ok($$ SELECT 'compatible'::mobisign.pki_profile $$, 'compatible is a profile');
SELECT throws_ok($$ SELECT 'Strict'::mobisign.pki_profile $$, '23514', NULL,
                 'the domain refuses any other profile (the names are case-sensitive)');
SELECT is((SELECT format_type(a.atttypid, NULL) || ' default ' || pg_get_expr(d.adbin, d.adrelid)
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = 'mobisign.pki'::regclass AND a.attname = 'profile' AND a.attnotnull),
          'mobisign.pki_profile default ''strict''::text',
          'mobisign.pki.profile is a NOT NULL mobisign.pki_profile, strict by default');
SELECT throws_ok($$ SELECT mobisign._check_pki_profile('STRICT') $$, '22023', 'invalid PKI profile "STRICT"',
                 '_check_pki_profile refuses an unknown profile with 22023');

SELECT * FROM finish();
ROLLBACK;
