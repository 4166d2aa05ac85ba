/*
 * hsm.c
 *	  PKCS#11 through the standard C API: the module named by
 *	  mobisign.pkcs11_module is dlopen'ed and driven through its function
 *	  list (C_GetFunctionList); the header is p11-kit's pkcs11.h.  See hsm.h
 *	  for the invariants, docs/operations.md for why this and not libp11 or
 *	  an OpenSSL provider.
 *
 * Per process state (Hsm): the module, its function list, the process that
 * initialized it, and one session on one token.  Every operation goes
 * through with_session(), which opens what is missing, runs the operation,
 * and after a token error resets everything and runs it once more.
 */
#include "postgres.h"

#include <dlfcn.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <p11-kit/pkcs11.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "hsm.h"
#include "keystore.h"
#include "ossl.h"
#include "pkcs11_uri.h"

/* GUCs (superuser-only) */
static char *ms_pkcs11_module = NULL;
static char *ms_pkcs11_pin_file = NULL;

#define MS_PIN_MAX 256			/* bytes of a PIN file */
#define MS_MAX_SLOTS 64

typedef struct Hsm
{
	pid_t		pid;			/* the process that called C_Initialize */
	void	   *dl;
	CK_FUNCTION_LIST_PTR f;
	char		module[MAXPGPATH];
	bool		session_open;
	CK_SESSION_HANDLE session;
	char		token[MSI_P11_TOKEN_MAX + 1];	/* of the session */
	bool		retrying;		/* with_session()'s second attempt */
	bool		have_refused_pin;
	unsigned char refused_pin[32];	/* SHA-256 of the PIN the token refused */
} Hsm;

static Hsm	hsm;

void
ms_hsm_init(void)
{
	DefineCustomStringVariable("mobisign.pkcs11_module",
							   "PKCS#11 module (shared library) of the token holding keys named by pkcs11: URIs.",
							   "An absolute path, e.g. /usr/lib/softhsm/libsofthsm2.so; loaded by each backend and worker at its first use.",
							   &ms_pkcs11_module,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("mobisign.pkcs11_pin_file",
							   "File holding the user PIN of the PKCS#11 token.",
							   "Obeys the key file rule; read at every login, never kept.",
							   &ms_pkcs11_pin_file,
							   NULL,
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

bool
ms_hsm_is_uri(const char *value)
{
	return msi_p11_uri_is(value);
}

bool
ms_hsm_check_key_guc(char **newval)
{
	msi_p11_uri u;
	const char *why = NULL;

	if (*newval == NULL || !msi_p11_uri_is(*newval))
		return true;
	if (msi_p11_uri_parse(*newval, strlen(*newval), &u, &why) != MSI_OK)
	{
		GUC_check_errdetail("Not a usable PKCS#11 URI: %s.", why);
		GUC_check_errhint("Write pkcs11:token=LABEL;object=LABEL (RFC 7512), e.g. pkcs11:token=mobisign;object=sp-key;type=private.");
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ errors */

/* Does rv mean that the session, the login or the token itself went away? */
static bool
token_lost(CK_RV rv)
{
	switch (rv)
	{
		case CKR_SESSION_HANDLE_INVALID:
		case CKR_SESSION_CLOSED:
		case CKR_SESSION_COUNT:
		case CKR_DEVICE_REMOVED:
		case CKR_DEVICE_ERROR:
		case CKR_DEVICE_MEMORY:
		case CKR_TOKEN_NOT_PRESENT:
		case CKR_TOKEN_NOT_RECOGNIZED:
		case CKR_CRYPTOKI_NOT_INITIALIZED:
		case CKR_USER_NOT_LOGGED_IN:
		case CKR_OBJECT_HANDLE_INVALID:
		case CKR_KEY_HANDLE_INVALID:
		case CKR_OPERATION_ACTIVE:
		case CKR_GENERAL_ERROR:
		case CKR_FUNCTION_FAILED:
			return true;
		default:
			return false;
	}
}

static void
unavailable(const char *guc, const char *what, CK_RV rv)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the PKCS#11 token of %s is not available", guc),
			 errdetail("%s returned 0x%08lx.", what, (unsigned long) rv),
			 errhint("Check that the token is present and mobisign.pkcs11_module names its module; requests that need it fail until it is back, and the next one tries again.")));
}

/* ------------------------------------------------------------ state */

/* Forget the session and finalize the module (it stays loaded). */
static void
reset(void)
{
	if (hsm.f != NULL && hsm.pid == getpid())
	{
		if (hsm.session_open)
			(void) hsm.f->C_CloseSession(hsm.session);
		(void) hsm.f->C_Finalize(NULL);
	}
	hsm.session_open = false;
	hsm.token[0] = '\0';
	hsm.pid = 0;
}

/* Load and initialize mobisign.pkcs11_module in this process if needed. */
static void
ensure_module(const char *guc)
{
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS args;
	CK_RV		rv;

	if (!IsUnderPostmaster && IsPostmasterEnvironment)
		elog(ERROR, "the postmaster does not use PKCS#11 tokens");
	if (ms_pkcs11_module == NULL || ms_pkcs11_module[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s names a key in a PKCS#11 token, but mobisign.pkcs11_module is not set", guc),
				 errhint("Set mobisign.pkcs11_module to the token's PKCS#11 module (an absolute path) and mobisign.pkcs11_pin_file to a file holding its PIN, then reload the configuration.")));
	if (hsm.pid != 0 && hsm.pid != getpid())
	{
		/* inherited through fork: never call into another process's state */
		hsm.pid = 0;
		hsm.session_open = false;
	}
	if (hsm.f != NULL && strcmp(hsm.module, ms_pkcs11_module) != 0)
	{
		reset();
		hsm.f = NULL;
		if (hsm.dl != NULL)
			dlclose(hsm.dl);
		hsm.dl = NULL;
	}
	if (hsm.f == NULL)
	{
		if (!is_absolute_path(ms_pkcs11_module) || strlen(ms_pkcs11_module) >= MAXPGPATH)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("mobisign.pkcs11_module must be an absolute path")));
		hsm.dl = dlopen(ms_pkcs11_module, RTLD_NOW | RTLD_LOCAL);
		if (hsm.dl == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("could not load the PKCS#11 module named by mobisign.pkcs11_module"),
					 errdetail("%s", dlerror()),
					 errhint("Install the token's PKCS#11 module or correct mobisign.pkcs11_module; the next request tries again.")));
		getfl = (CK_C_GetFunctionList) dlsym(hsm.dl, "C_GetFunctionList");
		if (getfl == NULL || getfl(&hsm.f) != CKR_OK || hsm.f == NULL)
		{
			hsm.f = NULL;
			dlclose(hsm.dl);
			hsm.dl = NULL;
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("mobisign.pkcs11_module is not a PKCS#11 module"),
					 errdetail("It has no usable C_GetFunctionList.")));
		}
		strlcpy(hsm.module, ms_pkcs11_module, sizeof(hsm.module));
	}
	if (hsm.pid == 0)
	{
		memset(&args, 0, sizeof(args));
		args.flags = CKF_OS_LOCKING_OK;
		rv = hsm.f->C_Initialize(&args);
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
			unavailable(guc, "C_Initialize", rv);
		hsm.pid = getpid();
	}
}

/* The token's label as the URI writes it: blank padding removed. */
static void
token_label(const CK_TOKEN_INFO *ti, char *out)
{
	int			n = sizeof(ti->label);

	memcpy(out, ti->label, n);
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* Read the PIN file into pin (NUL-terminated, line end removed). */
static size_t
read_pin(char *pin, size_t cap)
{
	size_t		n = 0;
	MsKeyFileStatus st;

	if (ms_pkcs11_pin_file == NULL || ms_pkcs11_pin_file[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mobisign.pkcs11_pin_file is not set"),
				 errhint("Set mobisign.pkcs11_pin_file to a file holding the token's user PIN, readable only by the server's OS user, then reload the configuration.")));
	st = ms_read_key_file(ms_pkcs11_pin_file, true, pin, cap, &n);
	if (st == MS_KEY_FILE_OPEN_TO_OTHERS)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the file named by mobisign.pkcs11_pin_file is open to others"),
				 errdetail(MS_KEY_FILE_RULE),
				 errhint(MS_KEY_FILE_HINT)));
	if (st != MS_KEY_FILE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not read the file named by mobisign.pkcs11_pin_file"),
				 errhint("It must be a small regular file readable by the server's OS user.")));
	while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
		pin[--n] = '\0';
	return n;
}

/* Log in with the PIN file's PIN (wiped before anything is raised). */
static void
login(const char *guc)
{
	char		pin[MS_PIN_MAX];
	size_t		n;
	unsigned char h[32];
	CK_RV		rv;

	n = read_pin(pin, sizeof(pin));
	ms_sha256((const unsigned char *) pin, n, h);
	if (hsm.have_refused_pin && CRYPTO_memcmp(h, hsm.refused_pin, sizeof(h)) == 0)
		rv = CKR_PIN_INCORRECT;	/* not offered again: no lock-out by retries */
	else
		rv = hsm.f->C_Login(hsm.session, CKU_USER, (CK_UTF8CHAR_PTR) pin, (CK_ULONG) n);
	ms_keystore_wipe(pin, sizeof(pin));
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
	{
		memcpy(hsm.refused_pin, h, sizeof(h));
		hsm.have_refused_pin = true;
	}
	else if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		hsm.have_refused_pin = false;
	ms_keystore_wipe(h, sizeof(h));
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return;
	reset();
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the PKCS#11 token of %s refused the PIN in mobisign.pkcs11_pin_file", guc),
				 errdetail("The same PIN is not offered again until the file changes, so that retries cannot lock the token."),
				 errhint("Write the token's user PIN into the file named by mobisign.pkcs11_pin_file.")));
	if (rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the user PIN of the PKCS#11 token of %s is locked", guc),
				 errhint("Unlock or reset the user PIN with the security officer PIN (e.g. pkcs11-tool --init-pin --login --login-type so), then retry.")));
	unavailable(guc, "C_Login", rv);
}

/*
 * Open a logged-in session on the token the URI names (its label; the
 * first initialized token if it names none).  Returns rv of the step that
 * failed with a token error, after which the caller resets and retries;
 * other failures are raised.
 */
static CK_RV
ensure_session(const char *guc, const msi_p11_uri *u)
{
	CK_SLOT_ID	slots[MS_MAX_SLOTS];
	CK_ULONG	nslots = MS_MAX_SLOTS;
	CK_TOKEN_INFO ti;
	char		label[sizeof(ti.label) + 1];
	CK_ULONG	i;
	CK_RV		rv;
	bool		found = false;
	CK_SLOT_ID	slot = 0;

	if (hsm.session_open && (!u->has_token || strcmp(hsm.token, u->token) == 0))
		return CKR_OK;
	if (hsm.session_open)
	{
		(void) hsm.f->C_CloseSession(hsm.session);
		hsm.session_open = false;
	}
	/* at most MS_MAX_SLOTS slots with a token (more: CKR_BUFFER_TOO_SMALL) */
	rv = hsm.f->C_GetSlotList(CK_TRUE, slots, &nslots);
	if (rv != CKR_OK)
		return rv;
	for (i = 0; i < nslots && i < MS_MAX_SLOTS && !found; i++)
	{
		if (hsm.f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
			(ti.flags & CKF_TOKEN_INITIALIZED) == 0)
			continue;
		token_label(&ti, label);
		if (!u->has_token || strcmp(label, u->token) == 0)
		{
			found = true;
			slot = slots[i];
		}
	}
	if (!found)
	{
		reset();
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the PKCS#11 token named by %s is not present", guc),
				 errdetail(u->has_token ? "No slot of the module holds an initialized token labelled \"%s\"." :
						   "No slot of the module holds an initialized token.", u->token),
				 errhint("Connect the token (or restore its files), or correct the token= of the URI; requests that need it fail until it is back, and the next one tries again.")));
	}
	rv = hsm.f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &hsm.session);
	if (rv != CKR_OK)
		return rv;
	hsm.session_open = true;
	strlcpy(hsm.token, u->has_token ? u->token : "", sizeof(hsm.token));
	login(guc);
	return CKR_OK;
}

/* The one object of class cls the URI names (raised when none or several). */
static CK_RV
find_key(const char *guc, const msi_p11_uri *u, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG	nt = 0;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG	n = 0;
	CK_RV		rv;

	tmpl[nt].type = CKA_CLASS;
	tmpl[nt].pValue = &cls;
	tmpl[nt++].ulValueLen = sizeof(cls);
	if (u->has_object)
	{
		tmpl[nt].type = CKA_LABEL;
		tmpl[nt].pValue = (void *) u->object;
		tmpl[nt++].ulValueLen = u->object_len;
	}
	if (u->has_id)
	{
		tmpl[nt].type = CKA_ID;
		tmpl[nt].pValue = (void *) u->id;
		tmpl[nt++].ulValueLen = u->id_len;
	}
	rv = hsm.f->C_FindObjectsInit(hsm.session, tmpl, nt);
	if (rv != CKR_OK)
		return rv;
	rv = hsm.f->C_FindObjects(hsm.session, found, 2, &n);
	(void) hsm.f->C_FindObjectsFinal(hsm.session);
	if (rv != CKR_OK)
		return rv;
	/*
	 * A token whose store went away can answer "no such object" on a
	 * session that still works: retried once from scratch before it is
	 * believed.
	 */
	if (n == 0 && !hsm.retrying)
		return CKR_OBJECT_HANDLE_INVALID;
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg(n == 0 ? "%s names no %s in its PKCS#11 token" : "%s names more than one %s in its PKCS#11 token",
						guc, cls == CKO_SECRET_KEY ? "secret key" : "private key"),
				 errhint("List the token's objects with pkcs11-tool --list-objects --login and name one by object= and id=.")));
	*h = found[0];
	return CKR_OK;
}

/* Parse a key GUC's URI (the check hook accepted it; checked again). */
static void
parse_uri(const char *guc, const char *uri, msi_p11_uri *u, msi_p11_type want)
{
	const char *why = NULL;

	if (msi_p11_uri_parse(uri, strlen(uri), u, &why) != MSI_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%s is not a usable PKCS#11 URI", guc),
				 errdetail("%s.", why)));
	if (u->type != MSI_P11_TYPE_ANY && u->type != want)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%s must name a %s", guc,
						want == MSI_P11_TYPE_PRIVATE ? "private key (type=private)" : "secret key (type=secret-key)")));
}

/* ------------------------------------------------------------ operations */

/*
 * An operation on the session: returns CKR_OK, or the rv that failed;
 * what names the call for the message.  arg is the operation's state.
 */
typedef CK_RV (*HsmOp) (const char *guc, const msi_p11_uri *u, void *arg, const char **what);

/*
 * Run op on a logged-in session; after a token error, reset everything and
 * run it once more; still failing: ERROR 55000.  Errors the operation
 * raises itself propagate as they are.
 */
static void
with_session(const char *guc, const msi_p11_uri *u, HsmOp op, void *arg)
{
	int			attempt;
	CK_RV		rv = CKR_OK;
	const char *what = "C_OpenSession";

	for (attempt = 0; attempt < 2; attempt++)
	{
		hsm.retrying = attempt > 0;
		ensure_module(guc);
		what = "C_OpenSession";
		rv = ensure_session(guc, u);
		if (rv == CKR_OK)
			rv = op(guc, u, arg, &what);
		if (rv == CKR_OK)
			return;
		reset();
		if (!token_lost(rv) && rv != CKR_SLOT_ID_INVALID)
			break;
	}
	unavailable(guc, what, rv);
}

typedef struct SignArg
{
	const unsigned char *tbs;
	size_t		tbslen;
	unsigned char *sig;			/* palloc'd: DER (EC) or the RSA signature */
	size_t		siglen;
} SignArg;

/* DER prime256v1 OID, as CKA_EC_PARAMS holds it */
static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* r || s (2 * 32 bytes) to a DER ECDSA-Sig-Value, palloc'd */
static unsigned char *
ecdsa_der(const unsigned char *raw, size_t rawlen, size_t *derlen)
{
	MsScope    *scope = ms_scope_create();
	ECDSA_SIG  *es = ms_scope_add(scope, ECDSA_SIG_new(), (MsFreeFn) ECDSA_SIG_free);
	BIGNUM	   *r = BN_bin2bn(raw, (int) (rawlen / 2), NULL);
	BIGNUM	   *s = BN_bin2bn(raw + rawlen / 2, (int) (rawlen / 2), NULL);
	unsigned char *der = NULL;
	unsigned char *p;
	int			n;

	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
	{
		BN_free(r);
		BN_free(s);
		ms_scope_release(scope);
		elog(ERROR, "could not encode the ECDSA signature");
	}
	n = i2d_ECDSA_SIG(es, NULL);
	if (n > 0)
	{
		der = palloc(n);
		p = der;
		n = i2d_ECDSA_SIG(es, &p);
	}
	ms_scope_release(scope);
	if (n <= 0)
		elog(ERROR, "could not encode the ECDSA signature");
	*derlen = (size_t) n;
	return der;
}

static CK_RV
sign_op(const char *guc, const msi_p11_uri *u, void *varg, const char **what)
{
	SignArg    *a = varg;
	CK_OBJECT_HANDLE key;
	CK_KEY_TYPE kt = 0;
	unsigned char params[64];
	CK_ATTRIBUTE attrs[2] = {
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_EC_PARAMS, params, sizeof(params)},
	};
	CK_MECHANISM mech = {0, NULL, 0};
	unsigned char digest[32];
	const unsigned char *data;
	CK_ULONG	datalen;
	unsigned char *out;
	CK_ULONG	outlen = 0;
	CK_RV		rv;

	*what = "C_FindObjects";
	rv = find_key(guc, u, CKO_PRIVATE_KEY, &key);
	if (rv != CKR_OK)
		return rv;
	*what = "C_GetAttributeValue";
	rv = hsm.f->C_GetAttributeValue(hsm.session, key, attrs, 1);
	if (rv != CKR_OK)
		return rv;
	if (kt == CKK_EC)
	{
		rv = hsm.f->C_GetAttributeValue(hsm.session, key, &attrs[1], 1);
		if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
			return rv;
		if (rv != CKR_OK || attrs[1].ulValueLen != sizeof(p256_oid) ||
			memcmp(params, p256_oid, sizeof(p256_oid)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the EC key named by %s is not on curve P-256", guc)));
		mech.mechanism = CKM_ECDSA;
		ms_sha256(a->tbs, a->tbslen, digest);
		data = digest;
		datalen = sizeof(digest);
	}
	else if (kt == CKK_RSA)
	{
		mech.mechanism = CKM_SHA256_RSA_PKCS;
		data = a->tbs;
		datalen = (CK_ULONG) a->tbslen;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the service provider key must be an EC or RSA key"),
				 errdetail("%s names a private key of another type.", guc)));
	*what = "C_SignInit";
	rv = hsm.f->C_SignInit(hsm.session, &mech, key);
	if (rv != CKR_OK)
		return rv;
	*what = "C_Sign";
	rv = hsm.f->C_Sign(hsm.session, (CK_BYTE_PTR) data, datalen, NULL, &outlen);
	if (rv != CKR_OK)
		return rv;
	if (outlen == 0 || outlen > 1024)
		return CKR_FUNCTION_FAILED;
	out = palloc(outlen);
	rv = hsm.f->C_Sign(hsm.session, (CK_BYTE_PTR) data, datalen, out, &outlen);
	if (rv != CKR_OK)
	{
		pfree(out);
		return rv;
	}
	if (kt == CKK_EC)
	{
		a->sig = ecdsa_der(out, outlen, &a->siglen);
		pfree(out);
	}
	else
	{
		a->sig = out;
		a->siglen = outlen;
	}
	return CKR_OK;
}

unsigned char *
ms_hsm_sign(const char *guc, const char *uri, const unsigned char *tbs, size_t tbslen,
			size_t *siglen)
{
	msi_p11_uri u;
	SignArg		a = {tbs, tbslen, NULL, 0};

	parse_uri(guc, uri, &u, MSI_P11_TYPE_PRIVATE);
	with_session(guc, &u, sign_op, &a);
	*siglen = a.siglen;
	return a.sig;
}

typedef struct GcmArg
{
	MsHsmGcm   *op;
	bool		authentic;
} GcmArg;

static CK_RV
gcm_op(const char *guc, const msi_p11_uri *u, void *varg, const char **what)
{
	GcmArg	   *a = varg;
	MsHsmGcm   *g = a->op;
	CK_OBJECT_HANDLE key;
	CK_GCM_PARAMS params;
	CK_MECHANISM mech;
	CK_ULONG	outlen = (CK_ULONG) g->outcap;
	CK_RV		rv;

	*what = "C_FindObjects";
	rv = find_key(guc, u, CKO_SECRET_KEY, &key);
	if (rv != CKR_OK)
		return rv;
	memset(&params, 0, sizeof(params));
	params.pIv = (unsigned char *) g->iv;
	params.ulIvLen = g->ivlen;
	params.ulIvBits = g->ivlen * 8;
	params.pAAD = (unsigned char *) g->aad;
	params.ulAADLen = g->aadlen;
	params.ulTagBits = 128;
	mech.mechanism = CKM_AES_GCM;
	mech.pParameter = &params;
	mech.ulParameterLen = sizeof(params);
	if (g->encrypt)
	{
		*what = "C_EncryptInit";
		rv = hsm.f->C_EncryptInit(hsm.session, &mech, key);
		if (rv != CKR_OK)
			return rv;
		*what = "C_Encrypt";
		rv = hsm.f->C_Encrypt(hsm.session, (CK_BYTE_PTR) g->in, g->inlen, g->out, &outlen);
		if (rv != CKR_OK)
			return rv;
		if (outlen != g->inlen + 16)
			return CKR_FUNCTION_FAILED;
		a->authentic = true;
		return CKR_OK;
	}
	*what = "C_DecryptInit";
	rv = hsm.f->C_DecryptInit(hsm.session, &mech, key);
	if (rv != CKR_OK)
		return rv;
	*what = "C_Decrypt";
	rv = hsm.f->C_Decrypt(hsm.session, (CK_BYTE_PTR) g->in, g->inlen, g->out, &outlen);
	if (rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED)
	{
		CK_SESSION_INFO si;

		/*
		 * Some tokens (SoftHSM2) answer a tag that does not verify with a
		 * general error: if the session is alive, that is what it was.
		 */
		if (hsm.f->C_GetSessionInfo(hsm.session, &si) == CKR_OK)
			rv = CKR_ENCRYPTED_DATA_INVALID;
	}
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
		rv == CKR_DATA_INVALID || rv == CKR_DATA_LEN_RANGE)
	{
		a->authentic = false;
		return CKR_OK;
	}
	if (rv != CKR_OK)
		return rv;
	a->authentic = outlen + 16 == g->inlen;
	return CKR_OK;
}

bool
ms_hsm_gcm(const char *guc, const char *uri, MsHsmGcm *op)
{
	msi_p11_uri u;
	GcmArg		a = {op, false};

	if ((op->encrypt && op->outcap < op->inlen + 16) ||
		(!op->encrypt && (op->inlen < 16 || op->outcap < op->inlen - 16)))
		elog(ERROR, "AES-GCM buffer too small");
	parse_uri(guc, uri, &u, MSI_P11_TYPE_SECRET_KEY);
	with_session(guc, &u, gcm_op, &a);
	if (!a.authentic)
		ms_keystore_wipe(op->out, op->outcap);
	return a.authentic;
}
