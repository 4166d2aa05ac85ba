/*
 * keystore.c
 *	  The master key (wraps SIM OTA keys with AES-256-GCM) and the service
 *	  provider's signing key, both read from files named by GUCs.
 *
 * The files are read by the server on every use (so a reload that changes
 * the GUC or a rotated file takes effect at once).  Nothing read from them
 * is logged or reported: errors name the GUC, never the content.  The one
 * thing kept between uses is the parsed service provider key (sp_cache),
 * keyed by the SHA-256 of the key and certificate files' bytes read on
 * every use: a different file is parsed and checked again at once.
 *
 * This file is also the one home of the key file rule (owner and mode,
 * ms_key_file_mode_ok()) and of the reader that applies it without raising
 * an error (ms_read_key_file(), used by the worker for a TLS client key).
 *
 * Wrapped key layout (bytea):
 *	  version (1 byte) || nonce (12) || ciphertext (len of key) || tag (16)
 * version 1: AES-256-GCM with the master key file's key (OpenSSL, here);
 * version 2: CKM_AES_GCM with the token's master key (inside the token).
 * The version says which master key unwraps it; mobisign_rewrap_keys()
 * turns every version 1 key into a version 2 key (ms_key_rewrap()).
 * AAD: "mobisign-sim-key-v1" 0x00 || msisdn || 0x00 || key_set (4 bytes, big
 * endian) || role ("kic" | "kid"): a wrapped key copied to another SIM, key
 * set or role does not authenticate.
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/crypto.h>

#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "hsm.h"
#include "keystore.h"
#include "msi.h"
#include "ossl.h"
#include "ota.h"

/* GUCs: where the secrets are (read on every use) */
static char *ms_master_key_file = NULL;
static char *ms_sp_key_file = NULL;
static char *ms_sp_cert_file = NULL;

/* a key GUC holds a path or a pkcs11: URI, which must parse */
static bool
check_key_guc(char **newval, void **extra, GucSource source)
{
	return ms_hsm_check_key_guc(newval);
}

void
ms_keystore_init(void)
{
	DefineCustomStringVariable("mobisign.master_key_file",
							   "File holding the master key (64 hex characters) that wraps SIM OTA keys, or the pkcs11: URI of an AES key in a token.",
							   "Read by the server on every use; keep it readable only by the server's OS user.",
							   &ms_master_key_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_key_guc, NULL, NULL);
	DefineCustomStringVariable("mobisign.sp_key_file",
							   "PEM private key of the service provider, signing every request to a SIM, or the pkcs11: URI of that key in a token.",
							   "EC (ECDSA-SHA256) or RSA (RSASSA-PKCS1-v1_5 with SHA-256).",
							   &ms_sp_key_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_key_guc, NULL, NULL);
	DefineCustomStringVariable("mobisign.sp_cert_file",
							   "PEM certificate of the service provider (the SIMs hold a copy).",
							   NULL,
							   &ms_sp_cert_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

void
ms_keystore_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

/*
 * The one home of the key file rule: owned by the server's OS user or by
 * root, with no access for others and at most read access for the group
 * (0640; PostgreSQL's rule for ssl_key_file also allows 0640 when root owns
 * the file).  A certificate is public and is read without the rule.
 */
bool
ms_key_file_mode_ok(const struct stat *st)
{
	return (st->st_uid == geteuid() || st->st_uid == 0) &&
		(st->st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) == 0;
}

MsKeyFileStatus
ms_read_key_file(const char *path, bool secret, char *buf, size_t bufsize, size_t *len)
{
	FILE	   *f;
	size_t		n;
	int			save_errno;
	MsKeyFileStatus rc = MS_KEY_FILE_OK;

	struct stat st;

	*len = 0;
	/* a FIFO or a device would block or never end: only a regular file */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return MS_KEY_FILE_NOT_REGULAR;
	f = AllocateFile(path, "r");
	if (f == NULL)
		return MS_KEY_FILE_CANNOT_OPEN;
	if (fstat(fileno(f), &st) != 0)
		rc = MS_KEY_FILE_CANNOT_STAT;
	else if (!S_ISREG(st.st_mode))
		rc = MS_KEY_FILE_NOT_REGULAR;
	else if (secret && !ms_key_file_mode_ok(&st))
		rc = MS_KEY_FILE_OPEN_TO_OTHERS;
	if (rc == MS_KEY_FILE_OK)
	{
		n = fread(buf, 1, bufsize - 1, f);
		if (ferror(f))
			rc = MS_KEY_FILE_CANNOT_READ;
		else if (!feof(f))
			rc = MS_KEY_FILE_TOO_LARGE;
		else
		{
			buf[n] = '\0';
			*len = n;
		}
		if (rc != MS_KEY_FILE_OK)
			ms_keystore_wipe(buf, bufsize);
	}
	save_errno = errno;
	FreeFile(f);
	errno = save_errno;
	return rc;
}

/*
 * Read a small file named by a GUC into buf (at most bufsize - 1 bytes,
 * NUL-terminated).  Returns the length.
 */
static size_t
read_secret_file(const char *guc_name, const char *path, char *buf, size_t bufsize,
				 bool secret)
{
	size_t		n;

	if (path == NULL || path[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is not set", guc_name),
				 errhint("Set %s in postgresql.conf to a file readable only by the server's OS user, then reload the configuration.",
						 guc_name)));

	switch (ms_read_key_file(path, secret, buf, bufsize, &n))
	{
		case MS_KEY_FILE_OK:
			break;
		case MS_KEY_FILE_CANNOT_OPEN:
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open the file named by %s: %m", guc_name),
					 errhint("The file must exist and be readable by the server's OS user.")));
			break;
		case MS_KEY_FILE_CANNOT_STAT:
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat the file named by %s: %m", guc_name)));
			break;
		case MS_KEY_FILE_OPEN_TO_OTHERS:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the file named by %s is open to others", guc_name),
					 errdetail(MS_KEY_FILE_RULE),
					 errhint(MS_KEY_FILE_HINT)));
			break;
		case MS_KEY_FILE_CANNOT_READ:
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the file named by %s: %m", guc_name)));
			break;
		case MS_KEY_FILE_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the file named by %s is too large", guc_name)));
			break;
		case MS_KEY_FILE_NOT_REGULAR:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the file named by %s is not a regular file", guc_name),
					 errhint("Name a file, not a FIFO, device or directory.")));
			break;
	}
	return n;
}

/* Load the 32-byte master key of the file path (named by what) into key[]. */
static void
load_master_key(const char *what, const char *path, unsigned char key[MS_MASTER_KEY_LEN])
{
	char		buf[256];
	size_t		n;
	size_t		i;
	bool		ok = true;

	n = read_secret_file(what, path, buf, sizeof(buf), true);

	/* 64 hex characters, then optional line end / trailing whitespace */
	if (n < 2 * MS_MASTER_KEY_LEN)
		ok = false;
	for (i = 0; ok && i < MS_MASTER_KEY_LEN; i++)
	{
		int			hi = msi_hex_digit((unsigned char) buf[2 * i]);
		int			lo = msi_hex_digit((unsigned char) buf[2 * i + 1]);

		if (hi < 0 || lo < 0)
			ok = false;
		else
			key[i] = (unsigned char) ((hi << 4) | lo);
	}
	for (i = 2 * MS_MASTER_KEY_LEN; ok && i < n; i++)
		if (buf[i] != '\n' && buf[i] != '\r' && buf[i] != ' ' && buf[i] != '\t')
			ok = false;
	ms_keystore_wipe(buf, sizeof(buf));
	if (!ok)
	{
		ms_keystore_wipe(key, MS_MASTER_KEY_LEN);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the file named by %s is malformed", what),
				 errdetail("The master key file must hold exactly 64 hexadecimal characters (32 bytes), optionally followed by a newline."),
				 errhint("Generate one with: openssl rand -hex 32 > FILE; chmod 600 FILE.")));
	}
}

static size_t
build_aad(unsigned char *aad, size_t aadsize, const char *msisdn, int key_set, const char *role)
{
	static const char label[] = "mobisign-sim-key-v1";
	size_t		ml = strlen(msisdn);
	size_t		rl = strlen(role);
	size_t		n = 0;

	if (sizeof(label) + ml + 1 + 4 + rl > aadsize)
		elog(ERROR, "MSISDN too long for the key wrapping label");
	memcpy(aad + n, label, sizeof(label));	/* includes the NUL */
	n += sizeof(label);
	memcpy(aad + n, msisdn, ml);
	n += ml;
	aad[n++] = 0;
	aad[n++] = (unsigned char) ((uint32) key_set >> 24);
	aad[n++] = (unsigned char) ((uint32) key_set >> 16);
	aad[n++] = (unsigned char) ((uint32) key_set >> 8);
	aad[n++] = (unsigned char) key_set;
	memcpy(aad + n, role, rl);
	n += rl;
	return n;
}

/* The setting a master key comes from, for messages */
#define MASTER_GUC "mobisign.master_key_file"

static void
check_key_len(size_t keylen)
{
	if (keylen == 0 || keylen > 64)
		elog(ERROR, "key length out of range");
}

/* A wrapped key's bytea with its version and a fresh nonce; returns its data. */
static bytea *
new_wrapped(int version, size_t keylen, unsigned char **p)
{
	bytea	   *out = (bytea *) palloc0(VARHDRSZ + MS_WRAP_OVERHEAD + keylen);

	SET_VARSIZE(out, VARHDRSZ + MS_WRAP_OVERHEAD + keylen);
	*p = (unsigned char *) VARDATA(out);
	(*p)[0] = (unsigned char) version;
	if (!pg_strong_random(*p + 1, MS_WRAP_NONCE_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random nonce")));
	return out;
}

/* Version 1: AES-256-GCM here, with the key of the master key file path. */
static bytea *
file_wrap(const char *what, const char *path, const unsigned char *aad, size_t aadlen,
		  const unsigned char *key, size_t keylen)
{
	unsigned char mk[MS_MASTER_KEY_LEN];
	bytea	   *out;
	unsigned char *p;
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

	out = new_wrapped(MS_WRAP_VERSION_FILE, keylen, &p);
	load_master_key(what, path, mk);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL
		&& EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
		&& EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, MS_WRAP_NONCE_LEN, NULL) == 1
		&& EVP_EncryptInit_ex(ctx, NULL, NULL, mk, p + 1) == 1
		&& EVP_EncryptUpdate(ctx, NULL, &len, aad, (int) aadlen) == 1
		&& EVP_EncryptUpdate(ctx, p + 1 + MS_WRAP_NONCE_LEN, &len, key, (int) keylen) == 1
		&& (size_t) len == keylen
		&& EVP_EncryptFinal_ex(ctx, p + 1 + MS_WRAP_NONCE_LEN + keylen, &len) == 1
		&& EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MS_WRAP_TAG_LEN,
							   p + 1 + MS_WRAP_NONCE_LEN + keylen) == 1;
	EVP_CIPHER_CTX_free(ctx);
	ms_keystore_wipe(mk, sizeof(mk));
	ERR_clear_error();
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not wrap the SIM key")));
	return out;
}

/* A token AES-GCM operation on the wrapped key's data p (nonce at p + 1). */
static void
token_op(MsHsmGcm *op, bool encrypt, const unsigned char *p,
		 const unsigned char *aad, size_t aadlen)
{
	memset(op, 0, sizeof(*op));
	op->encrypt = encrypt;
	op->iv = p + 1;
	op->ivlen = MS_WRAP_NONCE_LEN;
	op->aad = aad;
	op->aadlen = aadlen;
}

/* Version 2: CKM_AES_GCM inside the token, with the key the URI names. */
static bytea *
token_wrap(const char *uri, const unsigned char *aad, size_t aadlen,
		   const unsigned char *key, size_t keylen)
{
	bytea	   *out;
	unsigned char *p;
	MsHsmGcm	op;

	out = new_wrapped(MS_WRAP_VERSION_TOKEN, keylen, &p);
	token_op(&op, true, p, aad, aadlen);
	op.in = key;
	op.inlen = keylen;
	op.out = p + 1 + MS_WRAP_NONCE_LEN;
	op.outcap = keylen + MS_WRAP_TAG_LEN;
	(void) ms_hsm_gcm(MASTER_GUC, uri, &op);
	return out;
}

/*
 * Unwrap version 1 with the file's key into key[klen] (file_unwrap), or
 * version 2 in the token (token_unwrap); false when it does not
 * authenticate (key wiped).
 */
static bool
file_unwrap(const char *what, const char *path, const unsigned char *aad, size_t aadlen,
			const unsigned char *p, unsigned char *key, size_t klen)
{
	unsigned char mk[MS_MASTER_KEY_LEN];
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

	load_master_key(what, path, mk);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL
		&& EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
		&& EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, MS_WRAP_NONCE_LEN, NULL) == 1
		&& EVP_DecryptInit_ex(ctx, NULL, NULL, mk, p + 1) == 1
		&& EVP_DecryptUpdate(ctx, NULL, &len, aad, (int) aadlen) == 1
		&& EVP_DecryptUpdate(ctx, key, &len, p + 1 + MS_WRAP_NONCE_LEN, (int) klen) == 1
		&& (size_t) len == klen
		&& EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, MS_WRAP_TAG_LEN,
							   (void *) (p + 1 + MS_WRAP_NONCE_LEN + klen)) == 1
		&& EVP_DecryptFinal_ex(ctx, key + klen, &len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	ms_keystore_wipe(mk, sizeof(mk));
	ERR_clear_error();
	if (!ok)
		ms_keystore_wipe(key, klen);
	return ok;
}

static bool
token_unwrap(const char *uri, const unsigned char *aad, size_t aadlen,
			 const unsigned char *p, unsigned char *key, size_t klen)
{
	MsHsmGcm	op;
	unsigned char out[64 + MS_WRAP_TAG_LEN];
	bool		ok;

	token_op(&op, false, p, aad, aadlen);
	op.in = p + 1 + MS_WRAP_NONCE_LEN;
	op.inlen = klen + MS_WRAP_TAG_LEN;
	op.out = out;
	op.outcap = sizeof(out);
	ok = ms_hsm_gcm(MASTER_GUC, uri, &op);
	if (ok)
		memcpy(key, out, klen);
	ms_keystore_wipe(out, sizeof(out));
	return ok;
}

/* The data of a wrapped key, checked for its framing; *klen the key's length */
static const unsigned char *
wrapped_data(const bytea *wrapped, int key_set, const char *role, size_t *klen)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(wrapped);
	size_t		n = VARSIZE_ANY_EXHDR(wrapped);

	if (n <= MS_WRAP_OVERHEAD || n > MS_WRAP_OVERHEAD + 64 ||
		(p[0] != MS_WRAP_VERSION_FILE && p[0] != MS_WRAP_VERSION_TOKEN))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wrapped %s key of SIM key set %d is malformed", role, key_set)));
	*klen = n - MS_WRAP_OVERHEAD;
	return p;
}

static void
not_authentic(int key_set, const char *role)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("wrapped %s key of SIM key set %d does not authenticate", role, key_set),
			 errdetail("The master key differs from the one the key was wrapped with, or the stored key was altered or moved to another SIM."),
			 errhint("Check mobisign.master_key_file, or register the SIM's keys again with mobisign_add_sim_key().")));
}

bytea *
ms_key_wrap(const char *msisdn, int key_set, const char *role,
			const unsigned char *key, size_t keylen)
{
	unsigned char aad[128];
	size_t		aadlen;

	check_key_len(keylen);
	aadlen = build_aad(aad, sizeof(aad), msisdn, key_set, role);
	if (ms_hsm_is_uri(ms_master_key_file))
		return token_wrap(ms_master_key_file, aad, aadlen, key, keylen);
	return file_wrap(MASTER_GUC, ms_master_key_file, aad, aadlen, key, keylen);
}

unsigned char *
ms_key_unwrap(const char *msisdn, int key_set, const char *role,
			  const bytea *wrapped, size_t *keylen)
{
	unsigned char aad[128];
	size_t		aadlen;
	size_t		klen;
	const unsigned char *p = wrapped_data(wrapped, key_set, role, &klen);
	unsigned char *key;
	bool		token = ms_hsm_is_uri(ms_master_key_file);
	bool		ok;

	if (p[0] == MS_WRAP_VERSION_FILE && token)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the %s key of SIM key set %d is wrapped with a master key file, but mobisign.master_key_file names a key in a token", role, key_set),
				 errhint("Re-wrap the stored keys with the token's master key: SELECT * FROM mobisign_rewrap_keys('/path/of/the/old/master.key').")));
	if (p[0] == MS_WRAP_VERSION_TOKEN && !token)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the %s key of SIM key set %d is wrapped by the master key in a token, but mobisign.master_key_file is not a pkcs11: URI", role, key_set),
				 errhint("Set mobisign.master_key_file to the pkcs11: URI of the token's master key, with mobisign.pkcs11_module and mobisign.pkcs11_pin_file.")));
	aadlen = build_aad(aad, sizeof(aad), msisdn, key_set, role);
	key = palloc0(klen);
	if (token)
		ok = token_unwrap(ms_master_key_file, aad, aadlen, p, key, klen);
	else
		ok = file_unwrap(MASTER_GUC, ms_master_key_file, aad, aadlen, p, key, klen);
	if (!ok)
		not_authentic(key_set, role);
	*keylen = klen;
	return key;
}

bytea *
ms_key_rewrap(const char *msisdn, int key_set, const char *role,
			  const bytea *wrapped, const char *from_file)
{
	static const char what[] = "the source master key file";
	unsigned char aad[128];
	size_t		aadlen;
	size_t		klen;
	const unsigned char *p = wrapped_data(wrapped, key_set, role, &klen);
	unsigned char key[64];
	unsigned char check[64];
	bytea	   *volatile out = NULL;
	volatile bool ok = false;

	if (!ms_hsm_is_uri(ms_master_key_file))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mobisign.master_key_file does not name a key in a token"),
				 errhint("Set mobisign.master_key_file to the pkcs11: URI of the token's master key (and mobisign.pkcs11_module, mobisign.pkcs11_pin_file), reload, then re-wrap.")));
	if (p[0] != MS_WRAP_VERSION_FILE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the %s key of SIM key set %d is wrapped by the token already", role, key_set)));
	aadlen = build_aad(aad, sizeof(aad), msisdn, key_set, role);
	if (!file_unwrap(what, from_file, aad, aadlen, p, key, klen))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wrapped %s key of SIM key set %d does not authenticate with the source master key file", role, key_set),
				 errdetail("Nothing was re-wrapped: the migration is all or nothing."),
				 errhint("Name the master key file the keys were wrapped with.")));
	PG_TRY();
	{
		out = token_wrap(ms_master_key_file, aad, aadlen, key, klen);
		/* the token gives the same key back, or nothing is stored */
		ok = token_unwrap(ms_master_key_file, aad, aadlen,
						  (const unsigned char *) VARDATA(out), check, klen) &&
			CRYPTO_memcmp(check, key, klen) == 0;
	}
	PG_FINALLY();
	{
		ms_keystore_wipe(key, sizeof(key));
		ms_keystore_wipe(check, sizeof(check));
	}
	PG_END_TRY();
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the token did not give the re-wrapped %s key of SIM key set %d back", role, key_set)));
	return out;
}

void
ms_ota_keys_unwrap(const char *msisdn, int key_set,
				   const bytea *kic_wrapped, const bytea *kid_wrapped,
				   msc_ota_keys *keys)
{
	unsigned char *volatile kic = NULL;
	volatile size_t kic_len = 0;
	size_t		len;

	memset(keys, 0, sizeof(*keys));
	kic = ms_key_unwrap(msisdn, key_set, "kic", kic_wrapped, &len);
	kic_len = len;
	PG_TRY();
	{
		keys->kid = ms_key_unwrap(msisdn, key_set, "kid", kid_wrapped, &keys->kid_len);
	}
	PG_CATCH();
	{
		ms_keystore_wipe(kic, kic_len);
		PG_RE_THROW();
	}
	PG_END_TRY();
	keys->kic = kic;
	keys->kic_len = kic_len;
}

void
ms_ota_keys_wipe(msc_ota_keys *keys)
{
	ms_keystore_wipe((void *) keys->kic, keys->kic_len);
	ms_keystore_wipe((void *) keys->kid, keys->kid_len);
}

/* The service provider key cannot be used: why (problem), what to do (hint). */
static void
sp_key_refused(const char *problem, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("%s", problem),
			 errhint("%s", hint)));
}

/*
 * The SP key in a token: the token signs; the signature is then checked
 * with the public key of mobisign.sp_cert_file (when set), which proves the
 * token's key is the one the SIMs know, as X509_check_private_key() does
 * for a key file.
 */
static unsigned char *
token_sp_sign(const unsigned char *tbs, size_t tbslen, size_t *siglen)
{
	unsigned char *sig;
	size_t		slen;
	char	   *cpem;
	size_t		cpemlen;
	MsScope    *scope;
	BIO		   *cbio;
	X509	   *cert = NULL;
	EVP_MD_CTX *md;
	const char *problem = NULL;

	sig = ms_hsm_sign("mobisign.sp_key_file", ms_sp_key_file, tbs, tbslen, &slen);
	if (ms_sp_cert_file == NULL || ms_sp_cert_file[0] == '\0')
	{
		*siglen = slen;
		return sig;
	}
	cpem = palloc(65536);
	cpemlen = read_secret_file("mobisign.sp_cert_file", ms_sp_cert_file, cpem, 65536, false);
	scope = ms_scope_create();
	cbio = ms_scope_bio(scope, BIO_new_mem_buf(cpem, (int) cpemlen));
	if (cbio != NULL)
		cert = ms_scope_x509(scope, PEM_read_bio_X509(cbio, NULL, NULL, NULL));
	if (cert == NULL)
		problem = "the file named by mobisign.sp_cert_file does not hold a PEM certificate";
	else
	{
		md = ms_scope_md_ctx(scope, EVP_MD_CTX_new());
		if (md == NULL
			|| EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(cert)) != 1
			|| EVP_DigestVerify(md, sig, slen, tbs, tbslen) != 1)
			problem = "the key in the token named by mobisign.sp_key_file does not match the certificate in mobisign.sp_cert_file";
	}
	ms_scope_release(scope);
	ERR_clear_error();
	pfree(cpem);
	if (problem != NULL)
		sp_key_refused(problem, "mobisign.sp_key_file must name the token's private key of the certificate in mobisign.sp_cert_file.");
	*siglen = slen;
	return sig;
}

/*
 * The parsed service provider key of this backend, for the key and
 * certificate files whose bytes have the digests key_sha and cert_sha (the
 * certificate's all zero when mobisign.sp_cert_file is unset): parsing a PEM
 * key costs more than the signature, and the files are still read on every
 * use, so a changed file (or a changed GUC) is parsed and checked again on
 * the next request.  Only the parse is kept, never the files' bytes.
 */
static struct
{
	EVP_PKEY   *pkey;
	unsigned char key_sha[32];
	unsigned char cert_sha[32];
}			sp_cache;

static void
sp_cache_forget(void)
{
	EVP_PKEY_free(sp_cache.pkey);
	memset(&sp_cache, 0, sizeof(sp_cache));
}

/*
 * The key of the PEM files just read (pem; cpem NULL without a certificate):
 * the cached one when both digests match, else parsed, checked against the
 * certificate and cached.  NULL with *problem set when it cannot be used.
 */
static EVP_PKEY *
sp_key_of(const char *pem, size_t pemlen, const char *cpem, size_t cpemlen,
		  const char **problem)
{
	unsigned char key_sha[32];
	unsigned char cert_sha[32] = {0};
	BIO		   *bio = NULL;
	EVP_PKEY   *pkey = NULL;
	int			type;

	if (EVP_Digest(pem, pemlen, key_sha, NULL, EVP_sha256(), NULL) != 1 ||
		(cpem != NULL && EVP_Digest(cpem, cpemlen, cert_sha, NULL, EVP_sha256(), NULL) != 1))
	{
		*problem = "could not sign with the service provider key";
		return NULL;
	}
	if (sp_cache.pkey != NULL && memcmp(key_sha, sp_cache.key_sha, 32) == 0 &&
		memcmp(cert_sha, sp_cache.cert_sha, 32) == 0)
		return sp_cache.pkey;
	sp_cache_forget();

	bio = BIO_new_mem_buf(pem, (int) pemlen);
	if (bio != NULL)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		*problem = "the file named by mobisign.sp_key_file does not hold a PEM private key";
	else
	{
		type = EVP_PKEY_get_base_id(pkey);
		if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA)
			*problem = "the service provider key must be an EC or RSA key";
	}
	/* the key must be the one the SIMs know, by its certificate */
	if (*problem == NULL && cpem != NULL)
	{
		BIO		   *cbio;
		X509	   *cert = NULL;

		cbio = BIO_new_mem_buf(cpem, (int) cpemlen);
		if (cbio != NULL)
			cert = PEM_read_bio_X509(cbio, NULL, NULL, NULL);
		if (cert == NULL)
			*problem = "the file named by mobisign.sp_cert_file does not hold a PEM certificate";
		else if (X509_check_private_key(cert, pkey) != 1)
			*problem = "the key in mobisign.sp_key_file does not match the certificate in mobisign.sp_cert_file";
		X509_free(cert);
		BIO_free(cbio);
	}
	if (*problem != NULL)
	{
		EVP_PKEY_free(pkey);
		return NULL;
	}
	sp_cache.pkey = pkey;
	memcpy(sp_cache.key_sha, key_sha, 32);
	memcpy(sp_cache.cert_sha, cert_sha, 32);
	return pkey;
}

unsigned char *
ms_sp_sign(const unsigned char *tbs, size_t tbslen, size_t *siglen)
{
	char	   *pem;
	size_t		pemlen;
	char	   *cpem = NULL;
	size_t		cpemlen = 0;
	EVP_PKEY   *pkey;
	EVP_MD_CTX *md = NULL;
	unsigned char *sig = NULL;
	size_t		slen = 0;
	const char *problem = NULL;

	if (ms_hsm_is_uri(ms_sp_key_file))
	{
		sp_cache_forget();
		return token_sp_sign(tbs, tbslen, siglen);
	}

	/* read both files before any OpenSSL object exists (errors leak nothing) */
	pem = palloc(65536);
	pemlen = read_secret_file("mobisign.sp_key_file", ms_sp_key_file, pem, 65536, true);
	if (ms_sp_cert_file != NULL && ms_sp_cert_file[0] != '\0')
	{
		cpem = palloc(65536);
		cpemlen = read_secret_file("mobisign.sp_cert_file", ms_sp_cert_file, cpem, 65536, false);
	}

	pkey = sp_key_of(pem, pemlen, cpem, cpemlen, &problem);
	if (pkey != NULL)
	{
		md = EVP_MD_CTX_new();
		if (md == NULL
			|| EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1
			|| EVP_DigestSign(md, NULL, &slen, tbs, tbslen) != 1)
			problem = "could not sign with the service provider key";
		else
		{
			sig = palloc(slen);
			if (EVP_DigestSign(md, sig, &slen, tbs, tbslen) != 1)
				problem = "could not sign with the service provider key";
		}
	}
	EVP_MD_CTX_free(md);
	ms_keystore_wipe(pem, pemlen + 1);	/* what was read, and its NUL */
	pfree(pem);
	if (cpem != NULL)
		pfree(cpem);
	ERR_clear_error();
	if (problem != NULL)
		sp_key_refused(problem, "mobisign.sp_key_file must name a PEM private key (EC P-256 or RSA) readable by the server's OS user, matching the certificate in mobisign.sp_cert_file.");
	*siglen = slen;
	return sig;
}
