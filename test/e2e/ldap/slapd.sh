# shellcheck shell=bash
# A private slapd for the e2e tests (root-safe, loopback only), sourced by
# test/e2e/40_directory.sh.
#
#   slapd_setup DIR PKI_DIR BIND_PASSWORD   config + data in DIR (owned by openldap)
#   slapd_start DIR LDAP_PORT LDAPS_PORT    as the openldap user, on 127.0.0.1 only
#   slapd_stop DIR                          by the pid in DIR/slapd.pid
#   slapd_pid DIR
#
# Data: c=FI / o=mobisign e2e / ou=people (readable only after a bind) with
# alice, bob, erin (uid, mobile, userCertificate;binary), two entries with
# uid=twin, one with a non-ASCII uid (jösé); ou=certs (anonymous read) with
# cn=dave's certificate; CA entries cn=Root CA and cn=Int CA with
# cACertificate;binary and certificateRevocationList;binary.

slapd_setup() {
	local dir=$1 pki=$2 pw=$3 b64
	mkdir -p "$dir/slapd.d" "$dir/db"
	cp "$pki/ldap-server.pem" "$pki/ldap-server.key" "$pki/tls-ca.pem" "$dir/"
	cat >"$dir/config.ldif" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/slapd.pid
olcTLSCACertificateFile: $dir/tls-ca.pem
olcTLSCertificateFile: $dir/ldap-server.pem
olcTLSCertificateKeyFile: $dir/ldap-server.key

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: c=FI
olcRootDN: cn=admin,c=FI
olcRootPW: $pw
olcDbDirectory: $dir/db
olcDbMaxSize: 104857600
olcAccess: {0}to dn.subtree="ou=people,o=mobisign e2e,c=FI" by users read by * auth
olcAccess: {1}to * by * read
LDIF
	b64=$(printf 'jösé' | base64)
	cat >"$dir/data.ldif" <<LDIF
dn: c=FI
objectClass: country
c: FI

dn: o=mobisign e2e,c=FI
objectClass: organization
o: mobisign e2e

dn: ou=people,o=mobisign e2e,c=FI
objectClass: organizationalUnit
ou: people

dn: ou=certs,o=mobisign e2e,c=FI
objectClass: organizationalUnit
ou: certs

dn: uid=alice,ou=people,o=mobisign e2e,c=FI
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
mobile: +358 40 111-1111
userCertificate;binary:< file://$pki/alice.der

dn: uid=bob,ou=people,o=mobisign e2e,c=FI
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: B
mobile: +358402222222
userCertificate;binary:< file://$pki/bob.der

dn: uid=frank,ou=people,o=mobisign e2e,c=FI
objectClass: inetOrgPerson
uid: frank
cn: Frank
sn: F
mobile: +358406666666
userCertificate;binary:< file://$pki/frank.der

dn: cn=twin1,ou=people,o=mobisign e2e,c=FI
objectClass: inetOrgPerson
uid: twin
cn: twin1
sn: T
mobile: +358407777771

dn: cn=twin2,ou=people,o=mobisign e2e,c=FI
objectClass: inetOrgPerson
uid: twin
cn: twin2
sn: T
mobile: +358407777772

dn: cn=jose,ou=people,o=mobisign e2e,c=FI
objectClass: inetOrgPerson
uid:: $b64
cn: jose
sn: J
mobile: +358408888888

dn: cn=dave,ou=certs,o=mobisign e2e,c=FI
objectClass: applicationProcess
objectClass: pkiUser
cn: dave
userCertificate;binary:< file://$pki/dave.der

dn: cn=Root CA,o=mobisign e2e,c=FI
objectClass: applicationProcess
objectClass: pkiCA
cn: Root CA
cACertificate;binary:< file://$pki/root.der
certificateRevocationList;binary:< file://$pki/root.crl.der

dn: cn=Int CA,o=mobisign e2e,c=FI
objectClass: applicationProcess
objectClass: pkiCA
cn: Int CA
cACertificate;binary:< file://$pki/int.der
certificateRevocationList;binary:< file://$pki/int.crl.der
LDIF
	slapadd -n0 -F "$dir/slapd.d" -l "$dir/config.ldif" >"$dir/slapadd.log" 2>&1 || { cat "$dir/slapadd.log" >&2; return 1; }
	slapadd -n1 -F "$dir/slapd.d" -l "$dir/data.ldif" >>"$dir/slapadd.log" 2>&1 || { cat "$dir/slapadd.log" >&2; return 1; }
	chown -R openldap:openldap "$dir"
	chmod 0700 "$dir/slapd.d" "$dir/db"
	chmod 0600 "$dir/ldap-server.key"
}

slapd_pid() {
	cat "$1/slapd.pid" 2>/dev/null || true
}

slapd_start() {
	local dir=$1 port=$2 sport=$3 i
	rm -f "$dir/slapd.pid"
	setpriv --reuid=openldap --regid=openldap --clear-groups \
		slapd -F "$dir/slapd.d" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$sport/" || return 1
	for i in $(seq 1 100); do
		if [ -s "$dir/slapd.pid" ] &&
			ldapsearch -x -LLL -o nettimeout=1 -l 1 -H "ldap://127.0.0.1:$port" -b "" -s base \
				namingContexts >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "slapd did not start" >&2
	return 1
}

slapd_stop() {
	local dir=$1 pid i
	pid=$(slapd_pid "$dir")
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}
