/*
 * keystore.c
 *	  The master key (wraps SIM OTA keys with AES-256-GCM) and the service
 *	  provider's signing key, both read from files named by GUCs.
 *
 * The files are read by the server on every use (so a reload that changes
 * the GUC or a rotated file takes effect at once).  Nothing read from them
 * is cached, logged or reported: errors name the GUC, never the content.
 *
 * This file is also the one home of the key file rule (owner and mode,
 * ms_key_file_mode_ok()) and of the reader that applies it without raising
 * an error (ms_read_key_file(), used by the worker for a TLS client key).
 *
 * Wrapped key layout (bytea):
 *	  version (1 byte, 1) || nonce (12) || ciphertext (len of key) || tag (16)
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

#include "keystore.h"
#include "ota.h"

/* GUCs: where the secrets are (read on every use, never cached) */
static char *ms_master_key_file = NULL;
static char *ms_sp_key_file = NULL;
static char *ms_sp_cert_file = NULL;

void
ms_keystore_init(void)
{
	DefineCustomStringVariable("mobisign.master_key_file",
							   "File holding the master key (64 hex characters) that wraps SIM OTA keys.",
							   "Read by the server on every use; keep it readable only by the server's OS user.",
							   &ms_master_key_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("mobisign.sp_key_file",
							   "PEM private key of the service provider, signing every request to a SIM.",
							   "EC (ECDSA-SHA256) or RSA (RSASSA-PKCS1-v1_5 with SHA-256).",
							   &ms_sp_key_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
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

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
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

/* Load the 32-byte master key into key[]. */
static void
load_master_key(unsigned char key[MS_MASTER_KEY_LEN])
{
	char		buf[256];
	size_t		n;
	size_t		i;
	bool		ok = true;

	n = read_secret_file("mobisign.master_key_file", ms_master_key_file, buf, sizeof(buf), true);

	/* 64 hex characters, then optional line end / trailing whitespace */
	if (n < 2 * MS_MASTER_KEY_LEN)
		ok = false;
	for (i = 0; ok && i < MS_MASTER_KEY_LEN; i++)
	{
		int			hi = hexval(buf[2 * i]);
		int			lo = hexval(buf[2 * i + 1]);

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
				 errmsg("the file named by mobisign.master_key_file is malformed"),
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

bytea *
ms_key_wrap(const char *msisdn, int key_set, const char *role,
			const unsigned char *key, size_t keylen)
{
	unsigned char mk[MS_MASTER_KEY_LEN];
	unsigned char aad[128];
	size_t		aadlen;
	bytea	   *out;
	unsigned char *p;
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

	if (keylen == 0 || keylen > 64)
		elog(ERROR, "key length out of range");
	aadlen = build_aad(aad, sizeof(aad), msisdn, key_set, role);

	out = (bytea *) palloc0(VARHDRSZ + MS_WRAP_OVERHEAD + keylen);
	SET_VARSIZE(out, VARHDRSZ + MS_WRAP_OVERHEAD + keylen);
	p = (unsigned char *) VARDATA(out);
	p[0] = MS_WRAP_VERSION;
	if (!pg_strong_random(p + 1, MS_WRAP_NONCE_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random nonce")));

	load_master_key(mk);
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

unsigned char *
ms_key_unwrap(const char *msisdn, int key_set, const char *role,
			  const bytea *wrapped, size_t *keylen)
{
	unsigned char mk[MS_MASTER_KEY_LEN];
	unsigned char aad[128];
	size_t		aadlen;
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(wrapped);
	size_t		n = VARSIZE_ANY_EXHDR(wrapped);
	size_t		klen;
	unsigned char *key;
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

	if (n <= MS_WRAP_OVERHEAD || n > MS_WRAP_OVERHEAD + 64 || p[0] != MS_WRAP_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wrapped %s key of SIM key set %d is malformed", role, key_set)));
	klen = n - MS_WRAP_OVERHEAD;
	aadlen = build_aad(aad, sizeof(aad), msisdn, key_set, role);
	key = palloc0(klen);

	load_master_key(mk);
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
	{
		ms_keystore_wipe(key, klen);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wrapped %s key of SIM key set %d does not authenticate", role, key_set),
				 errdetail("The master key differs from the one the key was wrapped with, or the stored key was altered or moved to another SIM."),
				 errhint("Check mobisign.master_key_file, or register the SIM's keys again with mobisign_add_sim_key().")));
	}
	*keylen = klen;
	return key;
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

unsigned char *
ms_sp_sign(const unsigned char *tbs, size_t tbslen, size_t *siglen)
{
	char	   *pem;
	size_t		pemlen;
	char	   *cpem = NULL;
	size_t		cpemlen = 0;
	BIO		   *bio = NULL;
	EVP_PKEY   *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char *sig = NULL;
	size_t		slen = 0;
	const char *problem = NULL;
	int			type;

	/* read both files before any OpenSSL object exists (errors leak nothing) */
	pem = palloc(65536);
	pemlen = read_secret_file("mobisign.sp_key_file", ms_sp_key_file, pem, 65536, true);
	if (ms_sp_cert_file != NULL && ms_sp_cert_file[0] != '\0')
	{
		cpem = palloc(65536);
		cpemlen = read_secret_file("mobisign.sp_cert_file", ms_sp_cert_file, cpem, 65536, false);
	}

	bio = BIO_new_mem_buf(pem, (int) pemlen);
	if (bio != NULL)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (pkey == NULL)
		problem = "the file named by mobisign.sp_key_file does not hold a PEM private key";
	else
	{
		type = EVP_PKEY_get_base_id(pkey);
		if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA)
			problem = "the service provider key must be an EC or RSA key";
	}
	/* the key must be the one the SIMs know, by its certificate */
	if (problem == NULL && cpem != NULL)
	{
		BIO		   *cbio;
		X509	   *cert = NULL;

		cbio = BIO_new_mem_buf(cpem, (int) cpemlen);
		if (cbio != NULL)
			cert = PEM_read_bio_X509(cbio, NULL, NULL, NULL);
		if (cert == NULL)
			problem = "the file named by mobisign.sp_cert_file does not hold a PEM certificate";
		else if (X509_check_private_key(cert, pkey) != 1)
			problem = "the key in mobisign.sp_key_file does not match the certificate in mobisign.sp_cert_file";
		X509_free(cert);
		BIO_free(cbio);
	}
	if (problem == NULL)
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
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ms_keystore_wipe(pem, 65536);
	pfree(pem);
	ERR_clear_error();
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%s", problem),
				 errhint("mobisign.sp_key_file must name a PEM private key (EC P-256 or RSA) readable by the server's OS user, matching the certificate in mobisign.sp_cert_file.")));
	*siglen = slen;
	return sig;
}
