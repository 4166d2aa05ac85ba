/*-------------------------------------------------------------------------
 *
 * input_limits.h
 *	  The one home of the bounds of every text argument of mobisign's SQL
 *	  API (application labels, user ids, display texts, administrative
 *	  names, URLs...).
 *
 * Everything an application or an administrator passes in is bounded
 * before it is used, stored, audited or echoed in an error: a value over
 * its limit is refused with a clear error (application arguments with
 * SQLSTATE MSnnn, the TS 102 204 status, administrative arguments with
 * 22023).  Labels and identifiers must also be printable: no control,
 * format or separator character (codec/charclass.h).  A refused
 * value is never echoed.
 *
 * SQL reads the same table: mobisign._check_input(name, value) raises,
 * mobisign._input_fits(name, value) answers for CHECK constraints, and
 * mobisign_input_limits() lists every limit (docs/sim-channel.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_INPUT_LIMITS_H
#define MOBISIGN_INPUT_LIMITS_H

#include "postgres.h"

/* MsInputLimit.flags */
#define MS_INPUT_PRINTABLE	0x01	/* no control, format or separator character */
#define MS_INPUT_NONEMPTY	0x02	/* the empty string is refused */

typedef struct MsInputLimit
{
	const char *name;			/* the argument's name, as the API calls it */
	const char *what;			/* what it is, for messages: "application label" */
	int			max_chars;
	int			flags;			/* MS_INPUT_* */
	int			status;			/* TS 102 204 status raised as MSnnn; 0: 22023 */
} MsInputLimit;

/* The limit called name; ERROR if there is none (a programming error). */
extern const MsInputLimit *ms_input_limit(const char *name);

/*
 * Refuse value (a C string in the server encoding, len bytes) if it breaks
 * the limit called name: ERROR with the limit's SQLSTATE, never echoing
 * the value.
 */
extern void ms_input_check(const char *name, const char *value, size_t len);

#endif							/* MOBISIGN_INPUT_LIMITS_H */
