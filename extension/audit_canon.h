/*-------------------------------------------------------------------------
 *
 * audit_canon.h
 *	  The canonical form of an audit row: the bytes that its hash covers
 *	  after the previous row's hash (README.md, "The audit trail";
 *	  sql/parts/20_audit.sql).  Used by the sealer, the check and
 *	  mobisign.audit_digest (audit_chain.h).
 *
 * Invariants: the canonical form has its one home here, ms_audit_canonical()
 * in audit_canon.c: the text of
 *	  jsonb_build_array(id, at in microseconds since the Unix epoch, actor,
 *					  application, operation, transaction_id, outcome, detail,
 *					  chain_seq)
 * byte for byte, in UTF-8 (as stored when it has no UTF-8 form).  It never
 * depends on DateStyle, TimeZone or any other setting, and raises an error
 * only for a time that has no microsecond count since the Unix epoch.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_AUDIT_CANON_H
#define MOBISIGN_AUDIT_CANON_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* one audit row's values as stored (texts may have short headers) */
typedef struct MsAuditRow
{
	int64		id;
	TimestampTz at;
	const char *actor;
	text	   *application;	/* NULL for SQL NULL */
	text	   *operation;
	pg_uuid_t  *transaction_id; /* NULL for SQL NULL */
	text	   *outcome;
	Jsonb	   *detail;
	bool		has_seq;
	int64		chain_seq;
	bytea	   *prev_hash;		/* NULL for SQL NULL */
	bytea	   *hash;			/* NULL for SQL NULL */
} MsAuditRow;

/* the canonical form of r into out (reset first) */
extern void ms_audit_canonical(StringInfo out, const MsAuditRow *r);

#endif							/* MOBISIGN_AUDIT_CANON_H */
