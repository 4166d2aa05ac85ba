/*
 * keystore.c
 *	  The master key (wraps SIM OTA keys with AES-256-GCM) and the service
 *	  provider's signing key, both read from files named by GUCs.
 *
 * Each process keeps what it last read of each key file: the master key's
 * 32 bytes (master_cache, in a page of their own: locked in memory where
 * the limit allows, left out of core dumps) and the parsed service provider
 * key (sp_cache), each with the identity its file had when it was read
 * (KeyFileId: path, device, inode, size, mtime and ctime to the nanosecond,
 * mode, owner; taken by fstat() on the file that was read).  On every use
 * the path is stat()ed again and the key file rule applied to what stat()
 * says, so a chmod is refused at once; the cached key is used only while
 * the identity is the recorded one, else the file is read, parsed and
 * checked again at once (a rotated file, a file renamed into place, a
 * reload that changes the GUC).  An identity vouches for the content only
 * once the file has settled: a file changed less than KEY_FILE_SETTLE_SECS
 * before it was read is read again on every use (a second write in the same
 * tick of the file system's clock leaves the timestamps as they were).  A
 * cached key is wiped when it is replaced, when its file is refused, and
 * when its GUC changes (assign hooks); a pkcs11: URI caches nothing here.
 * Nothing read from the files is logged or reported: errors name the GUC,
 * never the content.  The source file of mobisign_rewrap_keys() is read on
 * every use and never cached.
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

#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
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

/* GUCs: where the secrets are (stat()ed on every use) */
static char *ms_master_key_file = NULL;
static char *ms_sp_key_file = NULL;
static char *ms_sp_cert_file = NULL;

/*
 * A key file's identity as stat() gives it, recorded (fstat of the open
 * file) when its content was read.  settled: the file had not changed for
 * KEY_FILE_SETTLE_SECS when the read began, so a later write changes its
 * timestamps (or size, inode...) and the identity tells; until then the
 * identity vouches for nothing and the file is read again on every use.
 * A path longer than the buffer is never settled (never cached).
 */
#define KEY_FILE_SETTLE_SECS 2

typedef struct KeyFileId
{
	bool		recorded;
	bool		settled;
	char		path[MAXPGPATH];
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtim;
	struct timespec ctim;
	mode_t		mode;
	uid_t		uid;
} KeyFileId;

/*
 * The master key of the file mobisign.master_key_file names, as this process
 * last read it: MS_MASTER_KEY_LEN bytes in secret_page(), valid while
 * id.recorded.
 */
static struct
{
	KeyFileId	id;
	unsigned char *key;
}			master_cache;

/*
 * The parsed service provider key of this process, for the key and
 * certificate files whose bytes had the digests key_sha and cert_sha (the
 * certificate's all zero when mobisign.sp_cert_file is unset) and, when
 * they were last read, the identities key_id and cert_id (cert_id not
 * recorded without a certificate).  Parsing a PEM key costs more than the
 * signature: a file read again with the same bytes (touched, copied over
 * itself) keeps the parse.  Never the files' bytes.
 */
static struct
{
	EVP_PKEY   *pkey;
	unsigned char key_sha[32];
	unsigned char cert_sha[32];
	KeyFileId	key_id;
	KeyFileId	cert_id;
}			sp_cache;

static void
key_file_id_clear(KeyFileId *id)
{
	memset(id, 0, sizeof(*id));
}

/* The clock a read begins at (CLOCK_REALTIME, as file timestamps), in ns */
static int64
key_file_clock(void)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		return 0;				/* nothing will count as settled */
	return (int64) now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Did a file last changed at t change more than the settle time before read_at? */
static bool
key_file_settled(const struct timespec *t, int64 read_at)
{
	return read_at - ((int64) t->tv_sec * 1000000000 + t->tv_nsec) >
		(int64) KEY_FILE_SETTLE_SECS * 1000000000;
}

/*
 * Record st, the fstat() of path's content just read; read_at: the
 * key_file_clock() before the open
 */
static void
key_file_id_set(KeyFileId *id, const char *path, const struct stat *st, int64 read_at)
{
	key_file_id_clear(id);
	id->recorded = true;
	id->settled = strlcpy(id->path, path, sizeof(id->path)) < sizeof(id->path) &&
		key_file_settled(&st->st_mtim, read_at) && key_file_settled(&st->st_ctim, read_at);
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtim = st->st_mtim;
	id->ctim = st->st_ctim;
	id->mode = st->st_mode;
	id->uid = st->st_uid;
}

static bool
timespec_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Is path, as st shows it now, the settled file recorded in id? */
static bool
key_file_id_is(const KeyFileId *id, const char *path, const struct stat *st)
{
	return id->recorded && id->settled && strcmp(id->path, path) == 0 &&
		id->dev == st->st_dev && id->ino == st->st_ino && id->size == st->st_size &&
		timespec_eq(&id->mtim, &st->st_mtim) && timespec_eq(&id->ctim, &st->st_ctim) &&
		id->mode == st->st_mode && id->uid == st->st_uid;
}

/*
 * The page that holds the cached master key: mapped on first use, never
 * swapped out where RLIMIT_MEMLOCK allows (mlock), left out of core dumps
 * (MADV_DONTDUMP).  The postmaster never reads a key, so no child inherits
 * one.
 */
static unsigned char *
secret_page(void)
{
	static unsigned char *page = NULL;
	size_t		size = (size_t) sysconf(_SC_PAGESIZE);
	void	   *p;

	if (page != NULL)
		return page;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not map a page for the master key: %m.")));
#ifdef MADV_DONTDUMP
	(void) madvise(p, size, MADV_DONTDUMP);
#endif
	(void) mlock(p, size);
	page = p;
	return page;
}

static void
master_cache_forget(void)
{
	if (master_cache.key != NULL)
		ms_keystore_wipe(master_cache.key, MS_MASTER_KEY_LEN);
	key_file_id_clear(&master_cache.id);
}

static void
sp_cache_forget(void)
{
	EVP_PKEY_free(sp_cache.pkey);	/* OpenSSL clears the private key's numbers */
	memset(&sp_cache, 0, sizeof(sp_cache));
}

/* a key GUC holds a path or a pkcs11: URI, which must parse */
static bool
check_key_guc(char **newval, void **extra, GucSource source)
{
	return ms_hsm_check_key_guc(newval);
}

/* a key GUC that now names another file (or a URI, or nothing) drops its key */
static bool
guc_leaves(const KeyFileId *id, const char *newval)
{
	return id->recorded && (newval == NULL || strcmp(newval, id->path) != 0);
}

static void
assign_master_key_file(const char *newval, void *extra)
{
	if (guc_leaves(&master_cache.id, newval))
		master_cache_forget();
}

static void
assign_sp_key_file(const char *newval, void *extra)
{
	if (guc_leaves(&sp_cache.key_id, newval))
		sp_cache_forget();
}

void
ms_keystore_init(void)
{
	DefineCustomStringVariable("mobisign.master_key_file",
							   "File holding the master key (64 hex characters) that wraps SIM OTA keys, or the pkcs11: URI of an AES key in a token.",
							   "Checked (stat) on every use and read again when it changed; keep it readable only by the server's OS user.",
							   &ms_master_key_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_key_guc, assign_master_key_file, NULL);
	DefineCustomStringVariable("mobisign.sp_key_file",
							   "PEM private key of the service provider, signing every request to a SIM, or the pkcs11: URI of that key in a token.",
							   "EC (ECDSA-SHA256) or RSA (RSASSA-PKCS1-v1_5 with SHA-256).",
							   &ms_sp_key_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_key_guc, assign_sp_key_file, NULL);
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

/* ms_read_key_file(), also giving *st, the fstat() of the file it read */
static MsKeyFileStatus
read_key_file(const char *path, bool secret, char *buf, size_t bufsize, size_t *len,
			  struct stat *st)
{
	FILE	   *f;
	size_t		n;
	int			save_errno;
	MsKeyFileStatus rc = MS_KEY_FILE_OK;

	*len = 0;
	/* a FIFO or a device would block or never end: only a regular file */
	if (stat(path, st) == 0 && !S_ISREG(st->st_mode))
		return MS_KEY_FILE_NOT_REGULAR;
	f = AllocateFile(path, "r");
	if (f == NULL)
		return MS_KEY_FILE_CANNOT_OPEN;
	if (fstat(fileno(f), st) != 0)
		rc = MS_KEY_FILE_CANNOT_STAT;
	else if (!S_ISREG(st->st_mode))
		rc = MS_KEY_FILE_NOT_REGULAR;
	else if (secret && !ms_key_file_mode_ok(st))
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

MsKeyFileStatus
ms_read_key_file(const char *path, bool secret, char *buf, size_t bufsize, size_t *len)
{
	struct stat st;

	return read_key_file(path, secret, buf, bufsize, len, &st);
}

/* A key GUC must name something */
static void
require_key_guc(const char *guc_name, const char *path)
{
	if (path == NULL || path[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is not set", guc_name),
				 errhint("Set %s in postgresql.conf to a file readable only by the server's OS user, then reload the configuration.",
						 guc_name)));
}

/* The error of a key file named by guc_name that cannot be used (rc not OK) */
static void
key_file_refused(const char *guc_name, MsKeyFileStatus rc)
{
	switch (rc)
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
}

/*
 * Read a small file named by a GUC into buf (at most bufsize - 1 bytes,
 * NUL-terminated).  Returns the length; *st is the fstat() of the file read.
 */
static size_t
read_secret_file(const char *guc_name, const char *path, char *buf, size_t bufsize,
				 bool secret, struct stat *st)
{
	size_t		n;
	MsKeyFileStatus rc;

	require_key_guc(guc_name, path);
	rc = read_key_file(path, secret, buf, bufsize, &n, st);
	if (rc != MS_KEY_FILE_OK)
		key_file_refused(guc_name, rc);
	return n;
}

/*
 * The key file named by guc_name as stat() sees it now (*st): OK, or
 * MS_KEY_FILE_OPEN_TO_OTHERS when a secret one breaks the key file rule, or
 * MS_KEY_FILE_CANNOT_STAT (missing, not a regular file...: reading it
 * says exactly why).  Raises no error but for an unset GUC.
 */
static MsKeyFileStatus
key_file_stat(const char *guc_name, const char *path, bool secret, struct stat *st)
{
	require_key_guc(guc_name, path);
	if (stat(path, st) != 0 || !S_ISREG(st->st_mode))
		return MS_KEY_FILE_CANNOT_STAT;
	if (secret && !ms_key_file_mode_ok(st))
		return MS_KEY_FILE_OPEN_TO_OTHERS;
	return MS_KEY_FILE_OK;
}

/*
 * Load the 32-byte master key of the file path (named by what) into key[];
 * *st: the fstat() of the file read.
 */
static void
load_master_key(const char *what, const char *path, unsigned char key[MS_MASTER_KEY_LEN],
				struct stat *st)
{
	char		buf[256];
	size_t		n;
	size_t		i;
	bool		ok = true;

	n = read_secret_file(what, path, buf, sizeof(buf), true, st);

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

/* The setting a master key comes from, for messages */
#define MASTER_GUC "mobisign.master_key_file"

/*
 * The master key of the file mobisign.master_key_file names: the cached one
 * while the file's identity is the one it was read with, else the file read
 * and parsed again.  The key file rule is applied to what stat() says on
 * every call.  The caller does not wipe it (master_cache_forget() does).
 */
static const unsigned char *
master_key(void)
{
	struct stat st;
	MsKeyFileStatus rc;
	unsigned char *key;
	int64		read_at;

	rc = key_file_stat(MASTER_GUC, ms_master_key_file, true, &st);
	if (rc == MS_KEY_FILE_OK && key_file_id_is(&master_cache.id, ms_master_key_file, &st))
		return master_cache.key;
	master_cache_forget();
	if (rc == MS_KEY_FILE_OPEN_TO_OTHERS)
		key_file_refused(MASTER_GUC, rc);
	key = secret_page();
	read_at = key_file_clock();
	load_master_key(MASTER_GUC, ms_master_key_file, key, &st);	/* wipes key on error */
	master_cache.key = key;
	key_file_id_set(&master_cache.id, ms_master_key_file, &st, read_at);
	return key;
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

/* Version 1: AES-256-GCM here, with the master key file's key mk. */
static bytea *
file_wrap(const unsigned char *mk, const unsigned char *aad, size_t aadlen,
		  const unsigned char *key, size_t keylen)
{
	bytea	   *out;
	unsigned char *p;
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

	out = new_wrapped(MS_WRAP_VERSION_FILE, keylen, &p);
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
 * Unwrap version 1 with the master key file's key mk into key[klen]
 * (file_unwrap), or version 2 in the token (token_unwrap); false when it
 * does not authenticate (key wiped).
 */
static bool
file_unwrap(const unsigned char *mk, const unsigned char *aad, size_t aadlen,
			const unsigned char *p, unsigned char *key, size_t klen)
{
	EVP_CIPHER_CTX *ctx;
	int			len;
	bool		ok;

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
	return file_wrap(master_key(), aad, aadlen, key, keylen);
}

/*
 * ms_key_unwrap() with *mk, the master key file's key: loaded at the first
 * version 1 key and kept in *mk for the next (ms_ota_keys_unwrap).
 */
static unsigned char *
key_unwrap(const char *msisdn, int key_set, const char *role,
		   const bytea *wrapped, size_t *keylen, const unsigned char **mk)
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
	{
		if (*mk == NULL)
			*mk = master_key();
		ok = file_unwrap(*mk, aad, aadlen, p, key, klen);
	}
	if (!ok)
		not_authentic(key_set, role);
	*keylen = klen;
	return key;
}

unsigned char *
ms_key_unwrap(const char *msisdn, int key_set, const char *role,
			  const bytea *wrapped, size_t *keylen)
{
	const unsigned char *mk = NULL;

	return key_unwrap(msisdn, key_set, role, wrapped, keylen, &mk);
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
	unsigned char mk[MS_MASTER_KEY_LEN];
	bytea	   *volatile out = NULL;
	volatile bool ok = false;
	bool		authentic;
	struct stat st;

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
	/* the source file is read for every key, never cached */
	load_master_key(what, from_file, mk, &st);
	authentic = file_unwrap(mk, aad, aadlen, p, key, klen);
	ms_keystore_wipe(mk, sizeof(mk));
	if (!authentic)
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
	const unsigned char *mk = NULL; /* the master key: looked up once for both */

	memset(keys, 0, sizeof(*keys));
	kic = key_unwrap(msisdn, key_set, "kic", kic_wrapped, &len, &mk);
	kic_len = len;
	PG_TRY();
	{
		keys->kid = key_unwrap(msisdn, key_set, "kid", kid_wrapped, &keys->kid_len, &mk);
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
	struct stat st;

	sig = ms_hsm_sign("mobisign.sp_key_file", ms_sp_key_file, tbs, tbslen, &slen);
	if (ms_sp_cert_file == NULL || ms_sp_cert_file[0] == '\0')
	{
		*siglen = slen;
		return sig;
	}
	cpem = palloc(65536);
	cpemlen = read_secret_file("mobisign.sp_cert_file", ms_sp_cert_file, cpem, 65536, false, &st);
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

/*
 * The service provider key of the key files: the cached parse while both
 * files (the certificate's when mobisign.sp_cert_file is set) have the
 * identities recorded when they were read, without reading them; else both
 * read again (sp_key_of(): parsed again unless their bytes are the ones
 * parsed).  The key file rule is applied to what stat() says on every call.
 * NULL with *problem set when the key cannot be used.
 */
static EVP_PKEY *
sp_file_key(const char **problem)
{
	bool		has_cert = ms_sp_cert_file != NULL && ms_sp_cert_file[0] != '\0';
	struct stat kst;
	struct stat cst;
	MsKeyFileStatus krc;
	MsKeyFileStatus crc = MS_KEY_FILE_OK;
	char	   *pem;
	size_t		pemlen;
	char	   *cpem = NULL;
	size_t		cpemlen = 0;
	int64		read_at;
	EVP_PKEY   *pkey;

	krc = key_file_stat("mobisign.sp_key_file", ms_sp_key_file, true, &kst);
	if (krc == MS_KEY_FILE_OPEN_TO_OTHERS)
	{
		sp_cache_forget();
		key_file_refused("mobisign.sp_key_file", krc);
	}
	if (has_cert)
		crc = key_file_stat("mobisign.sp_cert_file", ms_sp_cert_file, false, &cst);
	if (sp_cache.pkey != NULL && krc == MS_KEY_FILE_OK && crc == MS_KEY_FILE_OK &&
		key_file_id_is(&sp_cache.key_id, ms_sp_key_file, &kst) &&
		(has_cert ? key_file_id_is(&sp_cache.cert_id, ms_sp_cert_file, &cst) :
		 !sp_cache.cert_id.recorded))
		return sp_cache.pkey;

	/*
	 * Read both files before any OpenSSL object exists (errors leak
	 * nothing): the key, then the certificate (the key's bytes wiped before
	 * its error).
	 */
	key_file_id_clear(&sp_cache.key_id);
	key_file_id_clear(&sp_cache.cert_id);
	read_at = key_file_clock();
	pem = palloc(65536);
	pemlen = read_secret_file("mobisign.sp_key_file", ms_sp_key_file, pem, 65536, true, &kst);
	if (has_cert)
	{
		cpem = palloc(65536);
		crc = read_key_file(ms_sp_cert_file, false, cpem, 65536, &cpemlen, &cst);
		if (crc != MS_KEY_FILE_OK)
		{
			int			save_errno = errno;

			ms_keystore_wipe(pem, pemlen + 1);
			errno = save_errno;
			key_file_refused("mobisign.sp_cert_file", crc);
		}
	}
	pkey = sp_key_of(pem, pemlen, cpem, cpemlen, problem);
	ms_keystore_wipe(pem, pemlen + 1);	/* what was read, and its NUL */
	pfree(pem);
	if (cpem != NULL)
		pfree(cpem);
	if (pkey != NULL)
	{
		key_file_id_set(&sp_cache.key_id, ms_sp_key_file, &kst, read_at);
		if (has_cert)
			key_file_id_set(&sp_cache.cert_id, ms_sp_cert_file, &cst, read_at);
	}
	return pkey;
}

unsigned char *
ms_sp_sign(const unsigned char *tbs, size_t tbslen, size_t *siglen)
{
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

	pkey = sp_file_key(&problem);
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
	ERR_clear_error();
	if (problem != NULL)
		sp_key_refused(problem, "mobisign.sp_key_file must name a PEM private key (EC P-256 or RSA) readable by the server's OS user, matching the certificate in mobisign.sp_cert_file.");
	*siglen = slen;
	return sig;
}
