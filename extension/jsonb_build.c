/*-------------------------------------------------------------------------
 *
 * jsonb_build.c
 *	  jsonb documents built value by value (see jsonb_build.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "jsonb_build.h"

static void
push_key(MsJsonb *b, const char *key)
{
	JsonbValue	k;

	if (key == NULL)
		return;
	k.type = jbvString;
	k.val.string.val = pstrdup(key);
	k.val.string.len = strlen(key);
	pushJsonbValue(&b->state, WJB_KEY, &k);
}

/* a value: WJB_VALUE after a key, WJB_ELEM in an array */
static void
push_value(MsJsonb *b, const char *key, JsonbValue *v)
{
	push_key(b, key);
	pushJsonbValue(&b->state, key ? WJB_VALUE : WJB_ELEM, v);
}

static void
push_begin(MsJsonb *b, const char *key, JsonbIteratorToken tok)
{
	push_key(b, key);
	pushJsonbValue(&b->state, tok, NULL);
}

void
ms_jb_begin_object(MsJsonb *b, const char *key)
{
	push_begin(b, key, WJB_BEGIN_OBJECT);
}

void
ms_jb_begin_array(MsJsonb *b, const char *key)
{
	push_begin(b, key, WJB_BEGIN_ARRAY);
}

void
ms_jb_end(MsJsonb *b)
{
	JsonbIteratorToken tok = b->state->contVal.type == jbvArray ? WJB_END_ARRAY : WJB_END_OBJECT;
	JsonbValue *v = pushJsonbValue(&b->state, tok, NULL);

	if (b->state == NULL)
		b->done = v;
}

void
ms_jb_string(MsJsonb *b, const char *key, const char *val)
{
	JsonbValue	v;

	if (val == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = pstrdup(val);
		v.val.string.len = strlen(val);
	}
	push_value(b, key, &v);
}

void
ms_jb_bool(MsJsonb *b, const char *key, bool val)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = val;
	push_value(b, key, &v);
}

void
ms_jb_timestamptz(MsJsonb *b, const char *key, TimestampTz t)
{
	ms_jb_string(b, key, t == 0 ? NULL : timestamptz_to_str(t));
}

void
ms_jb_document(MsJsonb *b, const char *key, Jsonb *doc)
{
	JsonbValue	v;

	/* pushJsonbValue unpacks a binary container value by value */
	v.type = jbvBinary;
	v.val.binary.data = &doc->root;
	v.val.binary.len = VARSIZE(doc) - VARHDRSZ;
	push_value(b, key, &v);
}

Jsonb *
ms_jb_finish(MsJsonb *b)
{
	Assert(b->state == NULL && b->done != NULL);
	return JsonbValueToJsonb(b->done);
}

Jsonb *
ms_jb_empty_object(void)
{
	MsJsonb		b = {0};

	ms_jb_begin_object(&b, NULL);
	ms_jb_end(&b);
	return ms_jb_finish(&b);
}

void
ms_jb_int(MsJsonb *b, const char *key, int64 val)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(val);
	push_value(b, key, &v);
}

void
ms_jb_json_timestamptz(MsJsonb *b, const char *key, TimestampTz t)
{
	ms_jb_string(b, key, JsonEncodeDateTime(NULL, TimestampTzGetDatum(t), TIMESTAMPTZOID, NULL));
}
