/*
 * sim_api.c
 *	  The SIM channel's small SQL-callable helpers: CSPRNG values and
 *	  wrapping of SIM keys for storage and their migration into a token
 *	  (the keys and their GUCs are keystore.c's and hsm.c's).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "hsm.h"
#include "keystore.h"
#include "sim_api.h"

/* mobisign._random_bytes(n integer) RETURNS bytea: n bytes from the CSPRNG */
PG_FUNCTION_INFO_V1(ms_random_bytes);
Datum
ms_random_bytes(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	bytea	   *out;

	if (n < 1 || n > 1024)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("random length must be between 1 and 1024 bytes")));
	out = (bytea *) palloc(VARHDRSZ + n);
	SET_VARSIZE(out, VARHDRSZ + n);
	if (!pg_strong_random(VARDATA(out), n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes")));
	PG_RETURN_BYTEA_P(out);
}

/*
 * mobisign._verification_code() RETURNS text: four decimal digits, uniform
 * over 0000-9999 (16-bit draws of 60000 and above are rejected so that the
 * modulo is unbiased).
 */
PG_FUNCTION_INFO_V1(ms_verification_code);
Datum
ms_verification_code(PG_FUNCTION_ARGS)
{
	int			i;

	for (i = 0; i < 1000; i++)
	{
		unsigned char b[2];
		unsigned int v;

		if (!pg_strong_random(b, sizeof(b)))
			break;
		v = ((unsigned int) b[0] << 8) | b[1];
		if (v < 60000)
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("%04u", v % 10000)));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("could not generate a verification code")));
	PG_RETURN_NULL();
}

/* The SIM key a call names: its first arguments (msisdn, key_set, role). */
typedef struct SimKeyName
{
	char	   *msisdn;
	int32		key_set;
	char	   *role;
} SimKeyName;

static SimKeyName
sim_key_name(FunctionCallInfo fcinfo)
{
	SimKeyName	k;

	k.msisdn = text_to_cstring(PG_GETARG_TEXT_PP(0));
	k.key_set = PG_GETARG_INT32(1);
	k.role = text_to_cstring(PG_GETARG_TEXT_PP(2));
	return k;
}

/*
 * mobisign._key_wrap(msisdn text, key_set integer, role text, key bytea)
 * RETURNS bytea: the key wrapped with the master key (see keystore.c).
 */
PG_FUNCTION_INFO_V1(ms_key_wrap_sql);
Datum
ms_key_wrap_sql(PG_FUNCTION_ARGS)
{
	SimKeyName	k = sim_key_name(fcinfo);
	bytea	   *key = PG_GETARG_BYTEA_PP(3);
	size_t		keylen = VARSIZE_ANY_EXHDR(key);

	if (strcmp(k.role, "kic") != 0 && strcmp(k.role, "kid") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key role must be \"kic\" or \"kid\"")));
	if (keylen != 16 && keylen != 24 && keylen != 32)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be an AES key of 16, 24 or 32 bytes", k.role),
				 errdetail("The key given has %zu bytes.", keylen)));
	PG_RETURN_BYTEA_P(ms_key_wrap(k.msisdn, k.key_set, k.role,
								  (const unsigned char *) VARDATA_ANY(key), keylen));
}

/*
 * mobisign._key_check(msisdn text, key_set integer, role text, wrapped bytea)
 * RETURNS integer: unwraps (proving the master key matches) and returns the
 * key length; the clear key is wiped at once.
 */
PG_FUNCTION_INFO_V1(ms_key_check_sql);
Datum
ms_key_check_sql(PG_FUNCTION_ARGS)
{
	SimKeyName	k = sim_key_name(fcinfo);
	bytea	   *wrapped = PG_GETARG_BYTEA_PP(3);
	size_t		keylen;
	unsigned char *key;

	key = ms_key_unwrap(k.msisdn, k.key_set, k.role, wrapped, &keylen);
	ms_keystore_wipe(key, keylen);
	pfree(key);
	PG_RETURN_INT32((int32) keylen);
}

/*
 * mobisign._key_rewrap(msisdn text, key_set integer, role text, wrapped
 * bytea, from_master_key_file text) RETURNS bytea: a key wrapped with the
 * master key file from_master_key_file, wrapped again inside the token
 * (keystore.c, ms_key_rewrap); for mobisign_rewrap_keys().
 */
PG_FUNCTION_INFO_V1(ms_key_rewrap_sql);
Datum
ms_key_rewrap_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(ms_key_rewrap(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_INT32(1),
									text_to_cstring(PG_GETARG_TEXT_PP(2)), PG_GETARG_BYTEA_PP(3),
									text_to_cstring(PG_GETARG_TEXT_PP(4))));
}

/*
 * mobisign._master_key_in_token() RETURNS boolean: does
 * mobisign.master_key_file name a key in a token (a pkcs11: URI)?
 */
PG_FUNCTION_INFO_V1(ms_master_key_in_token);
Datum
ms_master_key_in_token(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ms_hsm_is_uri(GetConfigOption("mobisign.master_key_file", true, false)));
}
