/*-------------------------------------------------------------------------
 *
 * audit_log.h
 *	  mobisign.audit_log(): the one way an audit row is written (the trail
 *	  itself, its sealing and checks: sql/parts/20_audit.sql).
 *
 * Invariants: every text stored has a UTF-8 form (mobisign._audit_text: the
 * text, or 'hex:' and its stored bytes); a detail whose text has none is
 * replaced by {"unreadable_detail": "hex:..."}; writers only INSERT (the
 * sealer chains rows later).  Every verification writes a row, so it goes
 * through the executor's simple-insert path (audit_insert.h), or, for a
 * table that path leaves to SQL, an INSERT planned once per backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_AUDIT_LOG_H
#define MOBISIGN_AUDIT_LOG_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

/* mobisign.audit_log(operation, outcome, detail, transaction_id, application) -> id */
extern Datum mobisign_audit_log(PG_FUNCTION_ARGS);

/*
 * The same from C, for a row without transaction or application.  Its id is
 * not asked for: an INSERT without RETURNING costs less.
 */
extern void ms_audit_write(const char *operation, const char *outcome, Jsonb *detail);

#endif							/* MOBISIGN_AUDIT_LOG_H */
