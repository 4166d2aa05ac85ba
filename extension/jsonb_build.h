/*-------------------------------------------------------------------------
 *
 * jsonb_build.h
 *	  Building a jsonb document directly, value by value (the evidence that
 *	  verifications return), instead of writing JSON text and parsing it.
 *
 * Invariants: every string goes in as a jsonb string (no escaping by
 * hand, no text to re-parse); a NULL string becomes JSON null.  Inside an
 * object every value has a key; inside an array key is NULL.  Calls nest
 * like the document: begin/end pairs balance before ms_jb_finish().
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_JSONB_BUILD_H
#define MOBISIGN_JSONB_BUILD_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

typedef struct MsJsonb
{
	JsonbParseState *state;
	JsonbValue *done;			/* the outermost container once it ends */
} MsJsonb;

extern void ms_jb_begin_object(MsJsonb *b, const char *key);
extern void ms_jb_begin_array(MsJsonb *b, const char *key);
extern void ms_jb_end(MsJsonb *b);	/* of the innermost object or array */
extern void ms_jb_string(MsJsonb *b, const char *key, const char *val);
extern void ms_jb_bool(MsJsonb *b, const char *key, bool val);
extern void ms_jb_timestamptz(MsJsonb *b, const char *key, TimestampTz t);	/* 0: null */
extern void ms_jb_int(MsJsonb *b, const char *key, int64 val);
/* t as jsonb_build_object() writes a timestamptz (ISO 8601, "T") */
extern void ms_jb_json_timestamptz(MsJsonb *b, const char *key, TimestampTz t);
extern void ms_jb_document(MsJsonb *b, const char *key, Jsonb *doc);	/* a whole document */

/* The finished document (after the outermost end). */
extern Jsonb *ms_jb_finish(MsJsonb *b);

/* {} */
extern Jsonb *ms_jb_empty_object(void);

#endif							/* MOBISIGN_JSONB_BUILD_H */
