/*
 * provision.c
 *	  mobisign-sim provision / revoke: a test PKI, virtual SIMs, the service
 *	  provider's key and certificate, the master key and register.sql, all
 *	  made with the OpenSSL 3 C API.
 *
 * Files (DIR relative; "secret" files are 0640 group postgres when that group
 * exists, else 0644; everything else 0644; directories we create 0755):
 *
 *	sim.conf                 port, system_id, password, key_type, users (secret)
 *	master.key               64 hex characters + newline (secret)
 *	sp/key.pem, sp/cert.pem  service provider's EC P-256 key (secret) and cert
 *	ca/root.pem|der, ca/root.key.pem          root CA (key secret)
 *	ca/issuing.pem|der, ca/issuing.key.pem    issuing CA (key secret)
 *	ca/crlnumber, ca/revoked                  CRL state for "revoke"
 *	crl/root.der, crl/issuing.der             CRLs valid for 30 days
 *	users/USER/key.pem|cert.pem|cert.der      the key on USER's SIM + cert
 *	users/USER/pin           the SIM's PIN (--pin, else 4 random digits; secret)
 *	sims                     USER MSISDN KEYSET KIC KID TAR per line (secret)
 *	state/                   counters written by "run"
 *	behaviour, faults        templates (comments only)
 *	register.sql             for psql as a superuser (secret: holds SIM keys)
 */
#include "sim.h"

#include <errno.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CA_DAYS		3650
#define EE_DAYS		730
#define CRL_DAYS	30

typedef enum cert_kind
{
	CERT_ROOT,
	CERT_ISSUING,
	CERT_USER,
	CERT_SP
} cert_kind;

static EVP_PKEY *
gen_key(const char *type)
{
	EVP_PKEY   *k;

	if (strcmp(type, "rsa") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!k)
		sim_ssl_die("key generation");
	return k;
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		sim_ssl_die("certificate extension");
	if (!X509_add_ext(cert, ext, -1))
		sim_ssl_die("X509_add_ext");
	X509_EXTENSION_free(ext);
}

/*
 * C=FI, O=mobisign simulator, CN=cn, and for a user the serialNumber of a
 * natural person in the ETSI EN 319 412-1 form (5.1.3): "PNOEE-" and the
 * 11-digit national identity number that Mobile-ID requests carry without
 * the prefix (docs/simulator.md).
 */
static X509_NAME *
make_name(const char *cn, const char *serial_number)
{
	X509_NAME  *n = X509_NAME_new();

	if (!n ||
		!X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *) "FI", -1, -1, 0) ||
		!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *) "mobisign simulator", -1, -1, 0) ||
		!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0) ||
		(serial_number &&
		 !X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_ASC,
									 (const unsigned char *) serial_number, -1, -1, 0)))
		sim_ssl_die("X509_NAME");
	return n;
}

/* The national identity number of the i-th user: 11 digits, 30001010000 + i. */
static void
national_id(long i, char *out, size_t cap)
{
	snprintf(out, cap, "PNOEE-%011ld", 30001010000L + i);
}

static void
random_serial(X509 *cert)
{
	uint8_t		buf[12];
	BIGNUM	   *bn;

	sim_random(buf, sizeof(buf));
	buf[0] &= 0x7f;
	buf[0] |= 0x10;				/* positive, full length */
	bn = BN_bin2bn(buf, sizeof(buf), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		sim_ssl_die("serial number");
	BN_free(bn);
}

static X509 *
make_cert(cert_kind kind, const char *cn, const char *serial_number, EVP_PKEY *key,
		  X509 *issuer, EVP_PKEY *issuer_key)
{
	X509	   *c = X509_new();
	X509_NAME  *name = make_name(cn, serial_number);
	long		days = (kind == CERT_ROOT || kind == CERT_ISSUING) ? CA_DAYS : EE_DAYS;

	if (!c || !X509_set_version(c, X509_VERSION_3))
		sim_ssl_die("X509_new");
	random_serial(c);
	if (!X509_gmtime_adj(X509_getm_notBefore(c), -3600) ||
		!X509_gmtime_adj(X509_getm_notAfter(c), days * 86400L) ||
		!X509_set_subject_name(c, name) ||
		!X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) ||
		!X509_set_pubkey(c, key))
		sim_ssl_die("certificate fields");
	X509_NAME_free(name);
	if (!issuer)
		issuer = c;
	switch (kind)
	{
		case CERT_ROOT:
			add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE");
			add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
			add_ext(c, issuer, NID_subject_key_identifier, "hash");
			break;
		case CERT_ISSUING:
			add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
			add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
			add_ext(c, issuer, NID_subject_key_identifier, "hash");
			add_ext(c, issuer, NID_authority_key_identifier, "keyid:always");
			break;
		case CERT_USER:
			add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE");
			add_ext(c, issuer, NID_key_usage, "critical,digitalSignature,nonRepudiation");
			add_ext(c, issuer, NID_subject_key_identifier, "hash");
			add_ext(c, issuer, NID_authority_key_identifier, "keyid:always");
			break;
		case CERT_SP:
			add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE");
			add_ext(c, issuer, NID_key_usage, "critical,digitalSignature");
			add_ext(c, issuer, NID_subject_key_identifier, "hash");
			add_ext(c, issuer, NID_authority_key_identifier, "keyid:always");
			break;
	}
	if (!X509_sign(c, issuer_key, EVP_sha256()))
		sim_ssl_die("X509_sign");
	return c;
}

/*
 * A CRL by issuer, number crl_number, listing the serials in revoked
 * (hex, one per line; may be NULL), thisUpdate = now + this_offset seconds,
 * nextUpdate = thisUpdate + 30 days.
 */
static X509_CRL *
make_crl(X509 *issuer, EVP_PKEY *issuer_key, long crl_number, const char *revoked,
		 long this_offset)
{
	X509_CRL   *crl = X509_CRL_new();
	ASN1_TIME  *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509V3_CTX	ctx;
	X509_EXTENSION *ext;

	if (!crl || !t || !num || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
		!X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)))
		sim_ssl_die("X509_CRL_new");
	if (!X509_gmtime_adj(t, this_offset) || !X509_CRL_set1_lastUpdate(crl, t))
		sim_ssl_die("CRL thisUpdate");
	if (!X509_gmtime_adj(t, this_offset + CRL_DAYS * 86400L) || !X509_CRL_set1_nextUpdate(crl, t))
		sim_ssl_die("CRL nextUpdate");
	if (revoked)
	{
		const char *p = revoked;

		while (*p)
		{
			char		line[128];
			size_t		n = strcspn(p, "\n");
			BIGNUM	   *bn = NULL;
			X509_REVOKED *r;
			ASN1_INTEGER *serial;
			ASN1_TIME  *rt;

			if (n > 0 && n < sizeof(line))
			{
				memcpy(line, p, n);
				line[n] = '\0';
				if (!BN_hex2bn(&bn, line))
					sim_die("bad serial \"%s\" in ca/revoked", line);
				r = X509_REVOKED_new();
				serial = BN_to_ASN1_INTEGER(bn, NULL);
				rt = ASN1_TIME_new();
				if (!r || !serial || !rt || !X509_gmtime_adj(rt, this_offset - 1) ||
					!X509_REVOKED_set_serialNumber(r, serial) ||
					!X509_REVOKED_set_revocationDate(r, rt) ||
					!X509_CRL_add0_revoked(crl, r))
					sim_ssl_die("CRL entry");
				ASN1_INTEGER_free(serial);
				ASN1_TIME_free(rt);
				BN_free(bn);
			}
			p += n;
			if (*p == '\n')
				p++;
		}
		if (!X509_CRL_sort(crl))
			sim_ssl_die("X509_CRL_sort");
	}
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (!ext || !X509_CRL_add_ext(crl, ext, -1))
		sim_ssl_die("CRL authorityKeyIdentifier");
	X509_EXTENSION_free(ext);
	if (!ASN1_INTEGER_set(num, crl_number) ||
		!X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		sim_ssl_die("CRL number");
	if (!X509_CRL_sign(crl, issuer_key, EVP_sha256()))
		sim_ssl_die("X509_CRL_sign");
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	return crl;
}

/* --- writing objects ----------------------------------------------------- */

static void
write_bio(const char *path, BIO *b, int secret)
{
	char	   *data;
	long		n = BIO_get_mem_data(b, &data);

	sim_write_file(path, data, (size_t) n, secret);
	BIO_free(b);
}

static void
write_key(const char *dir, const char *name, EVP_PKEY *k)
{
	BIO		   *b = BIO_new(BIO_s_mem());
	char	   *p = sim_path(dir, name);

	if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		sim_ssl_die("PEM_write_bio_PrivateKey");
	write_bio(p, b, 1);
	free(p);
}

static void
write_cert_pem(const char *dir, const char *name, X509 *c)
{
	BIO		   *b = BIO_new(BIO_s_mem());
	char	   *p = sim_path(dir, name);

	if (!b || !PEM_write_bio_X509(b, c))
		sim_ssl_die("PEM_write_bio_X509");
	write_bio(p, b, 0);
	free(p);
}

static void
write_cert_der(const char *dir, const char *name, X509 *c)
{
	BIO		   *b = BIO_new(BIO_s_mem());
	char	   *p = sim_path(dir, name);

	if (!b || !i2d_X509_bio(b, c))
		sim_ssl_die("i2d_X509_bio");
	write_bio(p, b, 0);
	free(p);
}

static void
write_crl_der(const char *dir, const char *name, X509_CRL *crl)
{
	BIO		   *b = BIO_new(BIO_s_mem());
	char	   *p = sim_path(dir, name);

	if (!b || !i2d_X509_CRL_bio(b, crl))
		sim_ssl_die("i2d_X509_CRL_bio");
	write_bio(p, b, 0);
	free(p);
}

/* --- SQL text ------------------------------------------------------------ */

typedef struct sbuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} sbuf;

static void
sb_put(sbuf *s, const char *text, size_t n)
{
	if (s->len + n + 1 > s->cap)
	{
		while (s->len + n + 1 > s->cap)
			s->cap = s->cap ? s->cap * 2 : 65536;
		s->data = realloc(s->data, s->cap);
		if (!s->data)
			sim_die("out of memory");
	}
	memcpy(s->data + s->len, text, n);
	s->len += n;
	s->data[s->len] = '\0';
}

static void sb_printf(sbuf *s, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(sbuf *s, const char *fmt,...)
{
	va_list		ap;
	int			n;
	char		small[512];
	char	   *tmp;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		sim_die("vsnprintf failed");
	if ((size_t) n < sizeof(small))
	{
		sb_put(s, small, (size_t) n);
		return;
	}
	tmp = malloc((size_t) n + 1);
	if (!tmp)
		sim_die("out of memory");
	va_start(ap, fmt);
	vsnprintf(tmp, (size_t) n + 1, fmt, ap);
	va_end(ap);
	sb_put(s, tmp, (size_t) n);
	free(tmp);
}

/* '\x..'::bytea literal */
static void
sb_bytea(sbuf *s, const uint8_t *data, size_t len)
{
	char	   *hex = malloc(2 * len + 1);

	if (!hex)
		sim_die("out of memory");
	sim_hex(data, len, hex);
	sb_printf(s, "'\\x%s'::bytea", hex);
	free(hex);
}

static void
sb_cert_bytea(sbuf *s, X509 *c)
{
	unsigned char *der = NULL;
	int			n = i2d_X509(c, &der);

	if (n <= 0)
		sim_ssl_die("i2d_X509");
	sb_bytea(s, der, (size_t) n);
	OPENSSL_free(der);
}

static void
sb_crl_bytea(sbuf *s, X509_CRL *crl)
{
	unsigned char *der = NULL;
	int			n = i2d_X509_CRL(crl, &der);

	if (n <= 0)
		sim_ssl_die("i2d_X509_CRL");
	sb_bytea(s, der, (size_t) n);
	OPENSSL_free(der);
}

/* SQL string literal (single quotes doubled; paths come from the caller) */
static void
sb_sqlstr(sbuf *s, const char *text)
{
	const char *p;

	sb_put(s, "'", 1);
	for (p = text; *p; p++)
	{
		if (*p == '\'')
			sb_put(s, "''", 2);
		else
			sb_put(s, p, 1);
	}
	sb_put(s, "'", 1);
}

/* users/USER/pin: the PIN given, or 4 random digits (the phone page checks it) */
static void
write_pin(const char *udir, const char *pin)
{
	char		text[SIM_PIN_MAX + 2];
	char	   *p = sim_path(udir, "pin");
	uint8_t		r[2];

	if (pin)
		snprintf(text, sizeof(text), "%s\n", pin);
	else
	{
		sim_random(r, sizeof(r));
		snprintf(text, sizeof(text), "%04u\n", (unsigned) ((r[0] << 8 | r[1]) % 10000));
	}
	sim_write_file(p, text, strlen(text), 1);
	OPENSSL_cleanse(text, sizeof(text));
	free(p);
}

/* --- provision ----------------------------------------------------------- */

int
sim_cmd_provision(int argc, char **argv)
{
	const char *dir_arg = sim_arg(argc, argv, "--dir", NULL);
	const char *users_arg = sim_arg(argc, argv, "--users", NULL);
	const char *key_type = sim_arg(argc, argv, "--key-type", "ec");
	const char *port_arg = sim_arg(argc, argv, "--port", "2775");
	const char *base = sim_arg(argc, argv, "--msisdn-base", SIM_MSISDN_BASE);
	const char *pin_arg = sim_arg(argc, argv, "--pin", NULL);
	char		dir[PATH_MAX];
	long		nusers;
	long		port;
	char	   *end;
	EVP_PKEY   *root_key,
			   *iss_key,
			   *sp_key;
	X509	   *root,
			   *iss,
			   *sp;
	X509_CRL   *root_crl,
			   *iss_crl;
	uint8_t		master[32];
	char		hex[129];
	sbuf		sims = {0},
				sql = {0},
				conf = {0};
	char	   *p;
	long		i;

	if (!dir_arg || !users_arg)
		sim_die("provision needs --dir DIR and --users N");
	nusers = strtol(users_arg, &end, 10);
	if (*end || nusers < 1 || nusers > SIM_MAX_USERS)
		sim_die("--users must be between 1 and %d", SIM_MAX_USERS);
	port = strtol(port_arg, &end, 10);
	if (*end || port < 1 || port > 65535)
		sim_die("--port must be a TCP port number");
	if (strcmp(key_type, "ec") != 0 && strcmp(key_type, "rsa") != 0)
		sim_die("--key-type must be ec or rsa");
	if (strlen(base) + 7 > 15 || strspn(base, "0123456789") != strlen(base))
		sim_die("--msisdn-base must be digits, at most 8 of them");
	if (pin_arg && (strlen(pin_arg) < SIM_PIN_MIN || strlen(pin_arg) > SIM_PIN_MAX ||
					strspn(pin_arg, "0123456789") != strlen(pin_arg)))
		sim_die("--pin must be %d to %d digits", SIM_PIN_MIN, SIM_PIN_MAX);

	sim_mkdir(dir_arg);
	if (!realpath(dir_arg, dir))
		sim_die("realpath %s: %s", dir_arg, strerror(errno));
	sim_open_dir_chain(dir);
	for (i = 0; i < 6; i++)
	{
		static const char *const sub[] = {"ca", "crl", "sp", "users", "state", "log"};

		p = sim_path(dir, sub[i]);
		sim_mkdir(p);
		free(p);
	}

	/* the PKI: root CA -> issuing CA -> users and the service provider */
	root_key = gen_key("ec");
	root = make_cert(CERT_ROOT, "mobisign simulator root CA", NULL, root_key, NULL, root_key);
	iss_key = gen_key("ec");
	iss = make_cert(CERT_ISSUING, "mobisign simulator issuing CA", NULL, iss_key, root, root_key);
	root_crl = make_crl(root, root_key, 1, NULL, -60);
	iss_crl = make_crl(iss, iss_key, 1, NULL, -60);
	p = sim_path(dir, "ca");
	write_key(p, "root.key.pem", root_key);
	write_cert_pem(p, "root.pem", root);
	write_cert_der(p, "root.der", root);
	write_key(p, "issuing.key.pem", iss_key);
	write_cert_pem(p, "issuing.pem", iss);
	write_cert_der(p, "issuing.der", iss);
	free(p);
	p = sim_path(dir, "ca/crlnumber");
	sim_write_file(p, "1\n", 2, 0);
	free(p);
	p = sim_path(dir, "ca/revoked");
	sim_write_file(p, "", 0, 0);
	free(p);
	p = sim_path(dir, "crl");
	write_crl_der(p, "root.der", root_crl);
	write_crl_der(p, "issuing.der", iss_crl);
	free(p);

	sp_key = gen_key("ec");
	sp = make_cert(CERT_SP, "mobisign simulator service provider", NULL, sp_key, iss, iss_key);
	p = sim_path(dir, "sp");
	write_key(p, "key.pem", sp_key);
	write_cert_pem(p, "cert.pem", sp);
	free(p);

	sim_random(master, sizeof(master));
	sim_hex(master, sizeof(master), hex);
	strcat(hex, "\n");
	p = sim_path(dir, "master.key");
	sim_write_file(p, hex, strlen(hex), 1);
	free(p);
	OPENSSL_cleanse(master, sizeof(master));

	/* register.sql: settings first, then the PKI, users, keys, SMSC */
	sb_printf(&sql,
			  "-- Generated by mobisign-sim provision: run as a superuser with psql in a\n"
			  "-- database where the mobisign extension is installed.  Holds SIM keys.\n"
			  "\\set ON_ERROR_STOP 1\n"
			  "ALTER SYSTEM SET mobisign.master_key_file = ");
	p = sim_path(dir, "master.key");
	sb_sqlstr(&sql, p);
	free(p);
	sb_printf(&sql, ";\nALTER SYSTEM SET mobisign.sp_key_file = ");
	p = sim_path(dir, "sp/key.pem");
	sb_sqlstr(&sql, p);
	free(p);
	sb_printf(&sql, ";\nALTER SYSTEM SET mobisign.sp_cert_file = ");
	p = sim_path(dir, "sp/cert.pem");
	sb_sqlstr(&sql, p);
	free(p);
	sb_printf(&sql, ";\nSELECT pg_reload_conf();\nSELECT pg_sleep(0.3);\n\\connect\n");
	sb_printf(&sql, "SELECT mobisign_add_pki('sim', ARRAY[");
	sb_cert_bytea(&sql, root);
	/* the issuing CA: a known intermediate for path building, not an anchor */
	sb_printf(&sql, "], 'crl',\n                        intermediates => ARRAY[");
	sb_cert_bytea(&sql, iss);
	sb_printf(&sql, "]);\nSELECT mobisign_add_crl('sim', ");
	sb_crl_bytea(&sql, root_crl);
	sb_printf(&sql, ");\nSELECT mobisign_add_crl('sim', ");
	sb_crl_bytea(&sql, iss_crl);
	sb_printf(&sql, ");\n");

	sb_printf(&sims, "# USER MSISDN KEY_SET KIC KID TAR (mobisign-sim provision; secret)\n");
	for (i = 1; i <= nusers; i++)
	{
		char		user[32];
		char		msisdn[24];
		char		kic_hex[33],
					kid_hex[33];
		uint8_t		kic[16],
					kid[16];
		uint8_t		tar[3];
		size_t		tl;
		EVP_PKEY   *uk;
		X509	   *uc;
		char	   *udir;
		char		rel[64];
		char		pno[24];

		snprintf(user, sizeof(user), "user%04ld", i);
		snprintf(msisdn, sizeof(msisdn), "%s%07ld", base, i);
		uk = gen_key(key_type);
		national_id(i, pno, sizeof(pno));
		uc = make_cert(CERT_USER, user, pno, uk, iss, iss_key);
		p = sim_path(dir, "users");
		udir = sim_path(p, user);
		free(p);
		sim_mkdir(udir);
		write_key(udir, "key.pem", uk);
		write_cert_pem(udir, "cert.pem", uc);
		write_cert_der(udir, "cert.der", uc);
		write_pin(udir, pin_arg);
		free(udir);
		/* a fresh SIM: no counter accepted yet */
		snprintf(rel, sizeof(rel), "state/%s", user);
		p = sim_path(dir, rel);
		sim_write_file(p, "0 0 0\n", 6, 0);
		free(p);

		sim_random(kic, sizeof(kic));
		sim_random(kid, sizeof(kid));
		sim_unhex(SIM_TAR_HEX, tar, sizeof(tar), &tl);
		sim_hex(kic, 16, kic_hex);
		sim_hex(kid, 16, kid_hex);
		sb_printf(&sims, "%s %s %d %s %s %s\n", user, msisdn, SIM_KEY_SET,
				  kic_hex, kid_hex, SIM_TAR_HEX);

		sb_printf(&sql, "SELECT mobisign_register_user('%s', '%s', 'sim', ", user, msisdn);
		sb_cert_bytea(&sql, uc);
		sb_printf(&sql, ");\nSELECT mobisign_add_sim_key('%s', %d, ", msisdn, SIM_KEY_SET);
		sb_bytea(&sql, kic, 16);
		sb_printf(&sql, ", ");
		sb_bytea(&sql, kid, 16);
		sb_printf(&sql, ", ");
		sb_bytea(&sql, tar, 3);
		sb_printf(&sql, ");\n");
		OPENSSL_cleanse(kic, sizeof(kic));
		OPENSSL_cleanse(kid, sizeof(kid));
		EVP_PKEY_free(uk);
		X509_free(uc);
	}
	/*
	 * The SMSC link: short reconnect delay and response timeout so that
	 * fault tests (drop, silence) run in seconds.
	 */
	sb_printf(&sql,
			  "SELECT mobisign_add_smsc('sim', '127.0.0.1', %ld, '%s', '%s', '', '', 10, 100,\n"
			  "                         '10 s', '1 s', '5 s');\n",
			  port, SIM_SYSTEM_ID, SIM_PASSWORD);

	p = sim_path(dir, "sims");
	sim_write_file(p, sims.data, sims.len, 1);
	free(p);
	p = sim_path(dir, "register.sql");
	sim_write_file(p, sql.data, sql.len, 1);
	free(p);

	sb_printf(&conf,
			  "# mobisign-sim provision\nport %ld\nsystem_id %s\npassword %s\nkey_type %s\nusers %ld\n",
			  port, SIM_SYSTEM_ID, SIM_PASSWORD, key_type, nusers);
	p = sim_path(dir, "sim.conf");
	sim_write_file(p, conf.data, conf.len, 1);
	free(p);

	p = sim_path(dir, "behaviour");
	if (access(p, F_OK) != 0)
	{
		static const char tmpl[] =
			"# mobisign-sim behaviours: USER BEHAVIOUR [DELAY_MS]  (USER: user id, MSISDN or *)\n"
			"# BEHAVIOUR: sign cancel pin_blocked card_blocked no_key sim_error\n"
			"#            silent garbage duplicate wrong_content wrong_key wrong_ref\n"
			"#            replay replay_counter bad_cc\n"
			"# Re-read when it changes.  Default: sign, no delay.\n";

		sim_write_file(p, tmpl, sizeof(tmpl) - 1, 0);
	}
	free(p);
	p = sim_path(dir, "faults");
	if (access(p, F_OK) != 0)
	{
		static const char tmpl[] =
			"# mobisign-sim SMSC faults, applied each time this file changes:\n"
			"# throttle N | reject N STATUS | no_resp N | drop | drop_on_submit [N]\n"
			"# drop_one | drop_one_on_submit [N] | session_rate R\n"
			"# delay_ms D | duplicate_deliver N | nack_deliver N\n";

		sim_write_file(p, tmpl, sizeof(tmpl) - 1, 0);
	}
	free(p);

	printf("provisioned %ld SIM(s) (%s keys) in %s; SMSC on 127.0.0.1:%ld\n"
		   "register with: psql -v ON_ERROR_STOP=1 -f %s/register.sql DBNAME\n",
		   nusers, key_type, dir, port, dir);

	EVP_PKEY_free(root_key);
	EVP_PKEY_free(iss_key);
	EVP_PKEY_free(sp_key);
	X509_free(root);
	X509_free(iss);
	X509_free(sp);
	X509_CRL_free(root_crl);
	X509_CRL_free(iss_crl);
	free(sims.data);
	free(sql.data);
	free(conf.data);
	return 0;
}

/* --- revoke -------------------------------------------------------------- */

/*
 * Writes DIR/crl/issuing-revoked.der: a new issuing-CA CRL (next CRL number)
 * listing USER's certificate and every user revoked before.
 */
int
sim_cmd_revoke(int argc, char **argv)
{
	const char *dir = sim_arg(argc, argv, "--dir", NULL);
	const char *user = sim_arg(argc, argv, "--user", NULL);
	char		rel[128];
	char	   *p;
	X509	   *iss,
			   *uc;
	EVP_PKEY   *iss_key;
	X509_CRL   *crl;
	uint8_t    *data;
	size_t		len;
	long		number;
	BIGNUM	   *bn;
	char	   *serial_hex;
	sbuf		revoked = {0};
	char		num[32];

	if (!dir || !user)
		sim_die("revoke needs --dir DIR and --user USER");
	if (strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(user) || strlen(user) > 64)
		sim_die("bad user name");
	p = sim_path(dir, "ca/issuing.pem");
	iss = sim_read_cert(p);
	free(p);
	p = sim_path(dir, "ca/issuing.key.pem");
	iss_key = sim_read_key(p);
	free(p);
	snprintf(rel, sizeof(rel), "users/%s/cert.pem", user);
	p = sim_path(dir, rel);
	uc = sim_read_cert(p);
	free(p);

	p = sim_path(dir, "ca/crlnumber");
	if (sim_read_file(p, &data, &len) != 0)
		sim_die("cannot read %s: %s", p, strerror(errno));
	number = strtol((char *) data, NULL, 10) + 1;
	free(data);
	snprintf(num, sizeof(num), "%ld\n", number);
	sim_write_file(p, num, strlen(num), 0);
	free(p);

	bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(uc), NULL);
	serial_hex = bn ? BN_bn2hex(bn) : NULL;
	if (!serial_hex)
		sim_ssl_die("serial number");
	p = sim_path(dir, "ca/revoked");
	if (sim_read_file(p, &data, &len) != 0)
		sim_die("cannot read %s: %s", p, strerror(errno));
	sb_put(&revoked, (char *) data, len);
	free(data);
	if (!strstr(revoked.data ? revoked.data : "", serial_hex))
		sb_printf(&revoked, "%s\n", serial_hex);
	sim_write_file(p, revoked.data, revoked.len, 0);
	free(p);

	crl = make_crl(iss, iss_key, number, revoked.data, 0);
	p = sim_path(dir, "crl");
	write_crl_der(p, "issuing-revoked.der", crl);
	printf("%s/issuing-revoked.der: CRL number %ld revokes %s (serial %s)\n", p, number, user, serial_hex);
	free(p);

	OPENSSL_free(serial_hex);
	BN_free(bn);
	X509_CRL_free(crl);
	X509_free(iss);
	X509_free(uc);
	EVP_PKEY_free(iss_key);
	free(revoked.data);
	return 0;
}
