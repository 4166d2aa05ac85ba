/*-------------------------------------------------------------------------
 *
 * audit_chain.h
 *	  The audit trail's hash chain (README.md, "The audit trail";
 *	  sql/parts/20_audit.sql): a row's digest
 *	  (mobisign.audit_digest), the sealer (mobisign.audit_seal) and the check
 *	  of a stretch of the chain (mobisign._audit_chain_check, behind
 *	  mobisign_audit_verify).
 *
 * Invariants: a row's hash is SHA-256(prev_hash || its canonical form
 * (audit_canon.h)).  Writers only INSERT and never wait
 * for the chain: one sealer at a time (its row of mobisign.process_lock,
 * which no role but the owner can lock) gives committed rows the next chain
 * positions in id order, in batches of one UPDATE each.  The check reads
 * the chain in chain_seq order (with the calling statement's snapshot) and
 * stops at the first row whose position, link or hash is wrong.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_AUDIT_CHAIN_H
#define MOBISIGN_AUDIT_CHAIN_H

#include "postgres.h"

#include "fmgr.h"

/* the sealer's row of mobisign.process_lock: one sealer (and purger) at a time */
#define MS_AUDIT_SEAL_LOCK "audit_seal"

/* mobisign.audit_digest(prev bytea, a mobisign.audit) RETURNS bytea */
extern Datum ms_audit_digest(PG_FUNCTION_ARGS);

/* mobisign.audit_seal(max_rows integer) RETURNS bigint: the rows sealed */
extern Datum ms_audit_seal(PG_FUNCTION_ARGS);

/*
 * mobisign._audit_chain_check(first_seq bigint, anchor bytea, OUT intact,
 * OUT rows_checked, OUT first_broken_id, OUT first_broken_seq, OUT reason,
 * OUT head_hash): the sealed rows from first_seq on, the first linked to
 * anchor.
 */
extern Datum ms_audit_chain_check(PG_FUNCTION_ARGS);

#endif							/* MOBISIGN_AUDIT_CHAIN_H */
