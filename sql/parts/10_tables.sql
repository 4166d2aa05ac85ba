-- Data model. All tables are logged: a crash loses nothing.

-- One row per trusted PKI. Each PKI has its own trust store: one PKI's anchors
-- never validate another PKI's certificates.
CREATE TABLE mobisign.pki (
    id                     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                   text NOT NULL UNIQUE
                           CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$' AND mobisign._input_fits('name', name)),
    trust_anchors          bytea[] NOT NULL CHECK (cardinality(trust_anchors) BETWEEN 1 AND 64),
    intermediates          bytea[] NOT NULL DEFAULT '{}' CHECK (cardinality(intermediates) <= 256),
    revocation             text NOT NULL DEFAULT 'crl'
                           CHECK (revocation IN ('crl', 'none', 'ocsp', 'ocsp,crl')),
    initial_policies       text[],      -- dotted OIDs; NULL means anyPolicy
    explicit_policy        boolean NOT NULL DEFAULT false,
    inhibit_policy_mapping boolean NOT NULL DEFAULT false,
    inhibit_any_policy     boolean NOT NULL DEFAULT false,
    security_level         integer NOT NULL DEFAULT 2 CHECK (security_level BETWEEN 0 AND 5),
    enforce_key_usage      boolean NOT NULL DEFAULT true,
    crl_grace              interval NOT NULL DEFAULT '0' CHECK (crl_grace >= '0'),
    profile                mobisign.pki_profile NOT NULL DEFAULT 'strict',
    enabled                boolean NOT NULL DEFAULT true,
    generation             bigint NOT NULL DEFAULT 1,  -- bumped on any change; backends rebuild their stores
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN mobisign.pki.intermediates IS 'known CA certificates of the PKI (DER): used to build paths, never trusted as anchors';
COMMENT ON COLUMN mobisign.pki.security_level IS 'OpenSSL auth level: 2 refuses RSA < 2048 and SHA-1 certificate signatures';
COMMENT ON COLUMN mobisign.pki.profile IS 'strict: RFC 5280 rules beyond OpenSSL''s on the validated path (status 425); compatible: OpenSSL''s path validation alone';
COMMENT ON COLUMN mobisign.pki.generation IS 'incremented on every change to the PKI or its CRLs; each backend rebuilds its X509_STORE when it sees a new value';

-- Cached CRLs, DER. Several per issuer may exist (delta CRLs, partitioned by
-- distribution point); a newer CRL of the same scope replaces the older.
CREATE TABLE mobisign.crl (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pki_id          integer NOT NULL REFERENCES mobisign.pki ON DELETE CASCADE,
    issuer          text NOT NULL,
    der             bytea NOT NULL,
    sha256          bytea NOT NULL,
    crl_number      numeric,
    is_delta        boolean NOT NULL DEFAULT false,
    scope           text NOT NULL,  -- issuer + issuing distribution point + delta flag
    this_update     timestamptz NOT NULL,
    next_update     timestamptz,
    source          text NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'ldap', 'url')),
    source_url      text,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (pki_id, sha256)
);
CREATE INDEX crl_pki_scope ON mobisign.crl (pki_id, scope);
CREATE INDEX crl_next_update ON mobisign.crl (next_update);

-- Certificate cache: user certificates from every source, keyed by fingerprint.
CREATE TABLE mobisign.certificate (
    fingerprint     bytea PRIMARY KEY CHECK (length(fingerprint) = 32),  -- SHA-256 of the DER
    der             bytea NOT NULL,
    subject         text NOT NULL,
    issuer          text NOT NULL,
    serial          text NOT NULL,  -- hex
    subject_key_id  bytea,
    not_before      timestamptz NOT NULL,
    not_after       timestamptz NOT NULL,
    pki_id          integer REFERENCES mobisign.pki ON DELETE SET NULL,
    source          text NOT NULL CHECK (source IN ('register', 'ldap', 'url', 'device', 'admin')),
    source_url      text,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    last_validated_at timestamptz,
    last_status     integer REFERENCES mobisign.status_code
);
CREATE INDEX certificate_issuer_serial ON mobisign.certificate (issuer, serial);
CREATE INDEX certificate_skid ON mobisign.certificate (subject_key_id) WHERE subject_key_id IS NOT NULL;

-- LDAP directories, searched in position order. bind_password is a secret:
-- no role but the extension's owner can read it (column privileges below).
CREATE TABLE mobisign.directory (
    id                    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL UNIQUE,
    position              integer NOT NULL DEFAULT 100,
    url                   text NOT NULL CHECK (url ~* '^ldaps?://'),
    base_dn               text NOT NULL,
    bind_dn               text,
    bind_password         text,
    user_filter           text NOT NULL DEFAULT '(uid=%s)',
    msisdn_attribute      text NOT NULL DEFAULT 'mobile',
    certificate_attribute text NOT NULL DEFAULT 'userCertificate;binary',
    starttls              boolean NOT NULL DEFAULT false,
    ca_file               text,
    timeout               interval NOT NULL DEFAULT '5 s' CHECK (timeout > '0'),
    pki_id                integer REFERENCES mobisign.pki ON DELETE SET NULL,
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now()
);

-- The local user register.
CREATE TABLE mobisign.app_user (
    user_id                 text PRIMARY KEY CHECK (mobisign._input_fits('user_id', user_id)),
    msisdn                  mobisign.msisdn NOT NULL,
    pki_id                  integer REFERENCES mobisign.pki ON DELETE RESTRICT,
    certificate_fingerprint bytea REFERENCES mobisign.certificate ON DELETE SET NULL,
    certificate_url         text,
    status                  text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_user_msisdn ON mobisign.app_user (msisdn);

-- Per-SIM OTA key sets (TS 102 225). Keys are wrapped (AES-256-GCM) with the
-- master key from mobisign.master_key_file and bound to (msisdn, key_set);
-- the clear keys never pass through SQL after registration.
CREATE TABLE mobisign.sim_key (
    msisdn          text NOT NULL,
    key_set         integer NOT NULL CHECK (key_set BETWEEN 1 AND 15),
    kic_algorithm   text NOT NULL DEFAULT 'aes-cbc' CHECK (kic_algorithm IN ('aes-cbc')),
    kid_algorithm   text NOT NULL DEFAULT 'aes-cmac' CHECK (kid_algorithm IN ('aes-cmac')),
    kic_wrapped     bytea NOT NULL,
    kid_wrapped     bytea NOT NULL,
    tar             bytea NOT NULL CHECK (length(tar) = 3),
    counter         bigint NOT NULL DEFAULT 0 CHECK (counter BETWEEN 0 AND mobisign._ota_counter_max()),
    response_counter bigint NOT NULL DEFAULT -1,  -- highest counter accepted from the SIM
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (msisdn, key_set)
);

-- SMSC links. password is a secret (column privileges below). With tls the
-- worker verifies the SMSC's certificate against tls_ca_file only, for
-- tls_server_name (default: host); tls_cert_file/tls_key_file are an optional
-- client certificate. The tls_* columns are paths of files the server reads
-- (never their content); a path fits the worker's MAXPGPATH buffer.
-- binds is how many transceiver sessions the worker opens on the account
-- (operators give 2-10); window_size and max_per_second apply to each one.
CREATE TABLE mobisign.smsc (
    id                    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL UNIQUE,
    host                  text NOT NULL,
    port                  integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    tls                   boolean NOT NULL DEFAULT false,
    tls_ca_file           text CHECK (octet_length(tls_ca_file) BETWEEN 1 AND 1023),
    tls_server_name       text CHECK (tls_server_name ~ '^[A-Za-z0-9:]([A-Za-z0-9.:-]{0,251}[A-Za-z0-9])?$'),
    tls_cert_file         text CHECK (octet_length(tls_cert_file) BETWEEN 1 AND 1023),
    tls_key_file          text CHECK (octet_length(tls_key_file) BETWEEN 1 AND 1023),
    connect_timeout       interval NOT NULL DEFAULT '10 s' CHECK (connect_timeout > '0'),
    system_id             text NOT NULL CHECK (length(system_id) <= 15),
    password              text NOT NULL DEFAULT '' CHECK (length(password) <= 8),
    system_type           text NOT NULL DEFAULT '' CHECK (length(system_type) <= 12),
    source_addr           text NOT NULL DEFAULT '' CHECK (length(source_addr) <= 20),
    binds                 integer NOT NULL DEFAULT 1 CONSTRAINT smsc_binds_check CHECK (binds BETWEEN 1 AND 10),
    window_size           integer NOT NULL DEFAULT 10 CHECK (window_size BETWEEN 1 AND 1000),
    max_per_second        integer NOT NULL DEFAULT 100 CHECK (max_per_second BETWEEN 1 AND 100000),
    enquire_link_interval interval NOT NULL DEFAULT '30 s',
    reconnect_delay       interval NOT NULL DEFAULT '10 s',
    response_timeout      interval NOT NULL DEFAULT '10 s',
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT smsc_tls_needs_ca CHECK (NOT tls OR tls_ca_file IS NOT NULL),
    CONSTRAINT smsc_tls_settings_need_tls CHECK (tls OR num_nonnulls(tls_ca_file, tls_server_name,
                                                                   tls_cert_file, tls_key_file) = 0),
    CONSTRAINT smsc_tls_client_pair CHECK ((tls_cert_file IS NULL) = (tls_key_file IS NULL))
);

-- The relying parties of the HTTP gateway (gateway/, docs/gateway.md): the
-- name and UUID a Mobile-ID or ETSI client sends with every request.  The
-- name is compared case-insensitively (Mobile-ID's rule), the UUID exactly.
CREATE TABLE mobisign.relying_party (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (mobisign._input_fits('application', name)),
    uuid       uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX relying_party_name ON mobisign.relying_party (lower(name));

-- One row per authentication or signature.
CREATE TABLE mobisign.transaction (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind               text NOT NULL CHECK (mobisign._is_kind(kind)),
    app_role           name NOT NULL DEFAULT session_user,  -- row-level security key
    application        text CHECK (mobisign._input_fits('application', application)),  -- the caller's label
    user_id            text NOT NULL,
    msisdn             mobisign.msisdn NOT NULL,
    reference          bytea NOT NULL UNIQUE CHECK (length(reference) = 8),
    data               bytea NOT NULL,   -- the challenge, the UTF-8 text to be signed, or the digest
    data_hash          bytea NOT NULL,   -- SHA-256 of data
    display_text       text,
    verification_code  text NOT NULL CHECK (verification_code ~ '^[0-9]{4}$'),
    -- open: queued, submitted (mobisign._is_open); final: the others
    state              text NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'submitted', 'completed',
                                        'failed', 'expired', 'cancelled')),
    status_code        integer NOT NULL DEFAULT 100 REFERENCES mobisign.status_code,
    pki_id             integer REFERENCES mobisign.pki,
    certificate_fingerprint bytea,  -- the registered certificate the answer must verify against
    sim_key_set        integer,
    counter            bigint,      -- OTA counter used for the request
    created_at         timestamptz NOT NULL DEFAULT now(),
    submitted_at       timestamptz,
    completed_at       timestamptz,
    expires_at         timestamptz NOT NULL,
    signature          bytea,       -- CMS SignedData DER, or a digest's raw signature, as received
    signer_fingerprint bytea,
    signer_subject     text,
    reason             text,
    evidence           jsonb,       -- chain, CRL numbers / OCSP responses relied on
    CHECK (mobisign._is_open(state) = (completed_at IS NULL))
);
-- A second open request for the same user is refused by this index, not by a
-- race-prone check.
CREATE UNIQUE INDEX transaction_one_open_per_user ON mobisign.transaction (user_id)
    WHERE mobisign._is_open(state);
CREATE INDEX transaction_open_expiry ON mobisign.transaction (expires_at)
    WHERE mobisign._is_open(state);
-- Every change of state is a non-HOT UPDATE (state is in the predicates
-- above) and adds an entry to every index whose predicate the new version
-- meets: the indexes of every version are kept to what a query needs
-- (docs/operations.md, "Indexes of the request path").  The purge takes the
-- oldest final transactions by completed_at: only the final version has an
-- entry.  created_at has no index (no query of mobisign's needs one; a
-- final transaction's completed_at is at most its lifetime later).
CREATE INDEX transaction_completed ON mobisign.transaction (completed_at)
    WHERE completed_at IS NOT NULL;
ALTER TABLE mobisign.transaction ENABLE ROW LEVEL SECURITY;

-- Work for the worker, claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE mobisign.request_queue (
    transaction_id   uuid PRIMARY KEY REFERENCES mobisign.transaction ON DELETE CASCADE,
    msisdn           text NOT NULL,
    segments         bytea[] NOT NULL,   -- SMS user data (UDH included), in order
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    smsc_message_ids text[],
    done             boolean NOT NULL DEFAULT false,
    last_error       text
);
CREATE INDEX request_queue_pending ON mobisign.request_queue (next_attempt_at) WHERE NOT done;
-- what mobisign._queue_cleanup removes once the transaction is final (rows
-- sent more than once stay for the duplicate-delivery check).  A row sent
-- at most once goes with mobisign._finish when its transaction becomes
-- final, so what is left for the cleanup are rows of an older dump; the
-- rows sent and waiting for their answer (done, smsc_message_ids set: the
-- backlog) are left out, so the cleanup does not read them every call.
CREATE INDEX request_queue_finished ON mobisign.request_queue (transaction_id)
    WHERE done AND attempts <= 1 AND smsc_message_ids IS NULL;
-- Churn tables (docs/operations.md, "Queue health"): every row is inserted,
-- updated two or three times and then deleted (request_queue) or marked
-- processed (inbound_segment); the updates touch indexed columns, so they
-- are never HOT.  Autovacuum visits them after a fixed number of dead rows,
-- not a fraction of a table that may be tiny or huge, without cost delay.
-- Vacuum does not truncate the queue: its empty tail is refilled within
-- seconds, and truncating takes an ACCESS EXCLUSIVE lock on the table the
-- worker claims from (replayed on standbys); the heap keeps the size of the
-- most the queue held between two vacuums, reused from the free space map.
ALTER TABLE mobisign.request_queue SET (autovacuum_vacuum_scale_factor = 0,
                                        autovacuum_vacuum_threshold = 2000,
                                        autovacuum_vacuum_insert_scale_factor = 0,
                                        autovacuum_vacuum_insert_threshold = 5000,
                                        autovacuum_analyze_scale_factor = 0.02,
                                        autovacuum_vacuum_cost_delay = 0,
                                        vacuum_truncate = false);

-- Received MO segments, durable before the SMSC gets its deliver_sm_resp.
CREATE TABLE mobisign.inbound_segment (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msisdn       text NOT NULL,
    smsc_id      integer,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- the segments' group key (codec/sms.h, msc_udh_concat_key): the 8-bit
    -- reference, or the 16-bit one + 65536; NULL for a single SMS
    concat_ref   integer,
    total        integer NOT NULL DEFAULT 1,
    seq          integer NOT NULL DEFAULT 1,
    user_data    bytea NOT NULL,   -- UDH included
    digest       bytea NOT NULL,   -- SHA-256 of user_data: duplicates are recognised and ignored
    processed    boolean NOT NULL DEFAULT false,
    -- part of a complete set that was not authentic (a lost or a spoofed
    -- segment in it?) or of an incomplete set superseded by a newer one:
    -- still pending, as a candidate for another set of its reference, until
    -- the window ends (mobisign._process_inbound)
    rejected     boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX inbound_segment_dedup ON mobisign.inbound_segment (msisdn, digest) WHERE NOT processed;
CREATE INDEX inbound_segment_pending ON mobisign.inbound_segment (msisdn, concat_ref) WHERE NOT processed;
-- the purge's oldest processed segments (mobisign_purge): segments are
-- inserted in time order, so a BRIN index finds them without a scan of the
-- whole table at the cost of a few pages, not an entry per segment
CREATE INDEX inbound_segment_received ON mobisign.inbound_segment USING brin (received_at)
    WITH (autosummarize = on);
ALTER TABLE mobisign.inbound_segment SET (autovacuum_vacuum_scale_factor = 0,
                                          autovacuum_vacuum_threshold = 2000,
                                          autovacuum_analyze_scale_factor = 0.02,
                                          autovacuum_vacuum_cost_delay = 0);

-- Answers waiting for a verifier (docs/worker.md, "Answers in parallel"):
-- one row per stored segment that may complete an answer, whose MSISDN
-- mobisign._process_inbound is to look at, written in the transaction that
-- stored the segment (so before its deliver_sm_resp).  A verifier claims the oldest rows
-- FOR UPDATE SKIP LOCKED (mobisign._claim_answers) and deletes them in the
-- transaction that handles them: a verifier that dies rolls its claim back
-- and the rows are claimed again.  Writers only insert, never update, so the
-- SMPP owner never waits for a verifier's row lock (nor on inbound_segment:
-- a duplicate of a segment a verifier is updating is recognised by the
-- worker's snapshot, not by waiting on the unique index; worker/queue.c).
CREATE TABLE mobisign.answer_queue (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msisdn    text NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- a claim deletes all rows of the MSISDN it claims, the recheck looks for
-- an MSISDN's row: both by MSISDN, whatever the queue's length
CREATE INDEX answer_queue_msisdn ON mobisign.answer_queue (msisdn);
ALTER TABLE mobisign.answer_queue SET (autovacuum_vacuum_scale_factor = 0.02,
                                       autovacuum_analyze_scale_factor = 0.02,
                                       vacuum_truncate = false);

-- Locks between mobisign's own processes, as rows of a table on which no
-- other role has any privilege, so that no other role can take or hold them
-- (a row lock needs UPDATE; the table's own lock modes need a privilege
-- too): the audit sealer's ('audit_seal', 0: mobisign.audit_seal() and
-- mobisign_purge(), one at a time), the handler lock of one MSISDN's
-- answers ('answers', hashtext(msisdn) & 1023: mobisign._lock_answers; two
-- MSISDNs of one slot share a handler, which only delays the second by one
-- batch) and the writer's lock of a cached OCSP response ('ocsp', from the
-- certificate's digest: extension/ocsp.c takes it without waiting, and a
-- backend that finds it held does not cache its answer, where it waited
-- for whoever had written the row, until that transaction ended).  They were advisory locks, which any role connected to the
-- database may take (pg_advisory_lock is executable by PUBLIC and pg_locks
-- shows every key): one application session holding
-- pg_advisory_lock(hashtext('mobisign.audit_seal')) stopped the sealing of
-- the audit, the expiry and the verifier of slot 0 for as long as it stayed
-- connected, and one holding an MSISDN's key kept that user's answers
-- unread.  Rows written here at install time only, never updated.
CREATE TABLE mobisign.process_lock (
    name text NOT NULL,
    slot integer NOT NULL,
    PRIMARY KEY (name, slot)
);
INSERT INTO mobisign.process_lock (name, slot) VALUES ('audit_seal', 0);
INSERT INTO mobisign.process_lock (name, slot)
SELECT k, s FROM pg_catalog.unnest(ARRAY['answers', 'ocsp']) k,
              pg_catalog.generate_series(0, 1023) s;
