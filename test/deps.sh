#!/usr/bin/env bash
# Install what mobisign's build and tests need (Debian 12).
#
# Idempotent and fast when everything is present: apt-get update runs only if a
# package is missing (or the package lists are absent or older than a day);
# libssl3, libssl-dev and openssl are always brought to the newest version the
# package lists know (CVE fixes in the CMS code matter to a verifier).
# Debian's postgresql package may start a cluster on port 5432: we leave it
# alone and never use it (tests run private clusters on their own ports).
set -euo pipefail

PACKAGES=(
	postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl
	libsmpp34-dev libldap2-dev libssl-dev libssl3 openssl
	slapd ldap-utils stunnel4
	python3 python3-cryptography nodejs npm make gcc pkg-config
	chromium
	clang libclang-rt-14-dev
	libp11-kit-dev softhsm2 opensc
	patroni python3-etcd etcd-server
	libmicrohttpd-dev libjansson-dev libpq-dev curl jq
	gnuplot-nox
)
SSL_PACKAGES=(libssl3 libssl-dev openssl)

installed() {
	# npm may come inside a nodejs package (NodeSource builds provide it):
	# the command is what we need, whichever package brings it.
	case "$1" in
	npm)
		command -v npm >/dev/null 2>&1 && return 0 ;;
	esac
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done

# newest known version of the TLS/crypto packages?
ssl_outdated=()
for p in "${SSL_PACKAGES[@]}"; do
	if installed "$p"; then
		pol=$(LC_ALL=C apt-cache policy "$p" 2>/dev/null || true)
		inst=$(printf '%s\n' "$pol" | awk '/Installed:/ {print $2; exit}')
		cand=$(printf '%s\n' "$pol" | awk '/Candidate:/ {print $2; exit}')
		if [ -n "$cand" ] && [ "$cand" != "(none)" ] && [ "$inst" != "$cand" ]; then
			ssl_outdated+=("$p")
		fi
	fi
done

lists_stale() {
	# no package lists at all, or none refreshed in the last day
	local newest
	newest=$(find /var/lib/apt/lists -maxdepth 1 -type f -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)
	[ -z "$newest" ]
}

if [ ${#missing[@]} -eq 0 ] && [ ${#ssl_outdated[@]} -eq 0 ] && ! lists_stale; then
	echo "deps: all ${#PACKAGES[@]} packages present; $(openssl version)"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	if [ ${#missing[@]} -gt 0 ]; then
		echo "deps: missing packages: ${missing[*]}" >&2
		echo "deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
	echo "deps: all packages present (not root: cannot check for a newer libssl); $(openssl version)"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

if [ ${#missing[@]} -gt 0 ] || lists_stale; then
	echo "deps: apt-get update${missing[*]:+ (missing: ${missing[*]})}"
	apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	apt-get install "${APT_OPTS[@]}" --no-install-recommends "${missing[@]}"
fi
echo "deps: upgrading ${SSL_PACKAGES[*]} to the newest available"
apt-get install "${APT_OPTS[@]}" --only-upgrade "${SSL_PACKAGES[@]}"

still=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || still+=("$p")
done
if [ ${#still[@]} -gt 0 ]; then
	echo "deps: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "deps: ready; $(openssl version)"
