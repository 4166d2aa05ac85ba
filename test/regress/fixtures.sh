#!/usr/bin/env bash
# The fixtures the regression suites read, for `make installcheck` and
# test/run.sh alike:
#
#   test/regress/fixtures.sh DIR
#
# DIR/      test/fixtures/generate.sh's PKIs and signatures (00_setup loads
#           every file into fx(name, data))
# DIR/sim/  `mobisign-sim provision --users 2 --key-type rsa`: a PKI "sim",
#           two users (user0001, user0002) with SIM keys and certificates,
#           the service provider's key and certificate and a master key;
#           80_sim_flow reads them and has that SIM answer offline
#           (mobisign-sim answer)
# DIR/.complete  written last: the set is whole (make's prerequisite)
#
# The server reads these files itself (pg_read_binary_file, the key files
# named by mobisign.master_key_file and mobisign.sp_key_file), as its own OS
# user: DIR is made searchable by everyone and, when run as root, owned by
# postgres; the key files follow the key file rule (owned by the server's OS
# user or root, mode 0640 or less): as root they are group postgres 0640 (the
# simulator does that), as anyone else 0600, so the cluster must then run as
# that user (as ms_cluster_start's does).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
DIR=$1
SIM=${MOBISIGN_SIM:-$MOBISIGN_ROOT/test/sim/mobisign-sim}
[ -x "$SIM" ] || { echo "fixtures.sh: $SIM is not built (make simulator)" >&2; exit 1; }

rm -rf "$DIR/.complete" "$DIR/sim"
mkdir -p "$DIR"
chmod 0755 "$DIR"
bash "$MOBISIGN_ROOT/test/fixtures/generate.sh" "$DIR"
"$SIM" provision --dir "$DIR/sim" --users 2 --key-type rsa >"$DIR/sim-provision.log" 2>&1 || {
	cat "$DIR/sim-provision.log" >&2
	exit 1
}
rm -f "$DIR/sim-provision.log"
if [ "$(id -u)" -eq 0 ]; then
	chown postgres:postgres "$DIR"
else
	chmod 0600 "$DIR/sim/master.key" "$DIR/sim/sp/key.pem"
fi
touch "$DIR/.complete"
