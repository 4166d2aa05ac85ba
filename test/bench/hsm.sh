#!/usr/bin/env bash
# make bench, keys in a token: enqueueing authentications (mobisign_authenticate:
# the OTA keys unwrapped, the request signed by the SP key, the packet built)
# with the key files, then with both keys in a SoftHSM2 token (test/e2e/60_hsm.sh
# sets the same up), in one private cluster, in the same run.
#
#   RESULT enqueue_token_vs_file value=<token ops/s> ops/s reference=<file ops/s> ratio=<token/file> target=- pass
#
# BENCH_HSM_USERS (default 150) authentications per round, best of 3 rounds
# per key source.  Needs softhsm2 and opensc (test/deps.sh).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$MOBISIGN_ROOT"
users=${BENCH_HSM_USERS:-150}
MODULE=/usr/lib/softhsm/libsofthsm2.so
PIN=246810

work=$(ms_readable_dir)
cleanup() {
	ms_cluster_stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT

for cmd in softhsm2-util pkcs11-tool; do
	command -v "$cmd" >/dev/null || { echo "bench hsm: $cmd missing (bash test/deps.sh)" >&2; exit 1; }
done

echo "== keys in a token: enqueue with key files vs token keys ($users per round)"
test/sim/mobisign-sim provision --dir "$work/sim" --users "$users" --port "$(ms_free_port)" >/dev/null
mkdir -p "$work/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/hsm/tokens" \
	>"$work/hsm/softhsm2.conf"
export SOFTHSM2_CONF=$work/hsm/softhsm2.conf
printf '%s\n' "$PIN" >"$work/hsm/pin"
chmod 0600 "$work/hsm/pin"
openssl pkey -in "$work/sim/sp/key.pem" -outform DER -out "$work/hsm/sp.der"
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$work/sim" "$work/hsm"
p11() { ms_as_pg pkcs11-tool --module "$MODULE" --token-label mobisign --login --pin "$PIN" "$@" >/dev/null 2>&1; }
ms_as_pg softhsm2-util --init-token --free --label mobisign --so-pin 13579135 --pin "$PIN" >/dev/null
p11 --keygen --key-type AES:32 --label master --id 01 --sensitive
p11 --write-object "$work/hsm/sp.der" --type privkey --label sp-key --id 02 --usage-sign
rm -f "$work/hsm/sp.der"

mkdir -p "$work/pg"
ms_cluster_start "$work/pg" "$(ms_free_port)" >/dev/null
ms_psql -q -c "CREATE EXTENSION mobisign" >/dev/null
ms_psql -q -f "$work/sim/register.sql" >/dev/null 2>&1
# the SMSC link stays unused: only the enqueueing is measured
ms_psql -q -c "UPDATE mobisign.smsc SET enabled = false" >/dev/null

# one round: every user authenticates once (each call its own statement in
# one plpgsql loop), then every open transaction is cancelled; prints ops/s
round() {
	ms_psql -qAt <<'SQL'
SET client_min_messages = warning;
CREATE TEMP TABLE r AS SELECT clock_timestamp() AS t0;
DO $$
DECLARE i integer;
BEGIN
    FOR i IN 1 .. current_setting('bench.n')::integer LOOP
        PERFORM mobisign_authenticate(format('user%s', lpad(i::text, 4, '0')), 'bench');
    END LOOP;
END
$$;
SELECT round(current_setting('bench.n')::numeric
             / extract(epoch FROM clock_timestamp() - (SELECT t0 FROM r))::numeric, 1);
SELECT count(mobisign_cancel(id)) FROM mobisign.transaction WHERE state IN ('queued', 'submitted') \g /dev/null
SQL
}
best() { # best ROUNDS...: the highest
	printf '%s\n' "$@" | sort -g | tail -n 1
}
export PGOPTIONS="-c bench.n=$users"
f1=$(round) f2=$(round) f3=$(round)
file_rate=$(best "$f1" "$f2" "$f3")

ms_psql -q <<SQL >/dev/null
ALTER SYSTEM SET mobisign.pkcs11_module = '$MODULE';
ALTER SYSTEM SET mobisign.pkcs11_pin_file = '$work/hsm/pin';
ALTER SYSTEM SET mobisign.sp_key_file = 'pkcs11:token=mobisign;object=sp-key;type=private';
ALTER SYSTEM SET mobisign.master_key_file = 'pkcs11:token=mobisign;object=master;type=secret-key';
SELECT pg_reload_conf();
SQL
sleep 0.5
ms_psql -qAt -c "SELECT sim_keys FROM mobisign_rewrap_keys('$work/sim/master.key')" >/dev/null
t1=$(round) t2=$(round) t3=$(round)
token_rate=$(best "$t1" "$t2" "$t3")

printf '%-34s %12s %12s %8s\n' "operation" "token/s" "files/s" "ratio"
ratio=$(awk -v a="$token_rate" -v b="$file_rate" 'BEGIN { printf "%.2f", a / b }')
printf '%-34s %12.1f %12.1f %8.2f\n' "enqueue (mobisign_authenticate)" "$token_rate" "$file_rate" "$ratio"
echo "RESULT enqueue_token_vs_file value=$token_rate ops/s reference=$file_rate ratio=$ratio target=- pass"
