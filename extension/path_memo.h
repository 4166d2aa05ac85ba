/*-------------------------------------------------------------------------
 *
 * path_memo.h
 *	  Per-backend memo of path validations that succeeded: the chain built,
 *	  its policies and the evidence's path parts, valid over an interval of
 *	  check times.
 *
 * Invariants:
 * - The key is the SHA-256 of everything a validation reads besides the
 *	 check time: the PKI's id, generation and row version (so its anchors,
 *	 intermediates, CRLs, profile and settings: a PKI or CRL change bumps
 *	 them), the key usage asked for, the end entity's DER digest and the
 *	 caller's intermediates' digests in order.  A PKI with OCSP is never
 *	 memoised (its answer comes from outside).
 * - A validation reads the check time t only by comparing it with fixed
 *	 points: every notBefore and notAfter of the certificates it may use
 *	 (end entity, the caller's intermediates, the PKI's anchors and known
 *	 CAs), every CRL's thisUpdate and nextUpdate, and nextUpdate + crl_grace.
 *	 Between two consecutive points every such comparison, and so the whole
 *	 validation (issuer and CRL choice included), gives the same answer.  An
 *	 entry is therefore used only for a t strictly inside the open interval
 *	 around the t it was made at; a t on a point, or a point in a form
 *	 other than RFC 5280's, is never memoised.
 * - Only a fully valid result is kept (after the strict profile and key
 *	 usage), and not one whose path inherited DSA parameters (validate.c
 *	 makes per-call copies of those certificates); its evidence is rebuilt
 *	 at each hit with the call's time.
 * - At most mobisign.path_memo_entries entries (0: off); when full, all are
 *	 dropped at once.  An entry holds only copies (text, jsonb) in the
 *	 memo's own memory context, never an OpenSSL object.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_PATH_MEMO_H
#define MOBISIGN_PATH_MEMO_H

#include "postgres.h"

#include <openssl/x509.h>

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "pki_store.h"
#include "validate.h"

typedef struct MsPathMemoKey
{
	unsigned char digest[32];
} MsPathMemoKey;

/* What a memoised validation hands back (owned by the memo: do not free). */
typedef struct MsPathMemoHit
{
	List	   *chain;			/* char * subjects, end entity first */
	List	   *policies;		/* char * OIDs */
	Jsonb	   *chain_ev;		/* the evidence's "chain" array */
	Jsonb	   *crls_ev;		/* the evidence's "crls" array */
	bool		stale_crl_in_grace;
} MsPathMemoHit;

/* GUC mobisign.path_memo_entries */
extern void ms_path_memo_init(void);

/* The key of this validation; false when it is not to be memoised. */
extern bool ms_path_memo_key(MsPki *pki, X509 *cert, STACK_OF(X509) *untrusted,
							 MsKeyUsage usage, MsPathMemoKey *key);

/* The entry for key valid at t, or false. */
extern bool ms_path_memo_lookup(const MsPathMemoKey *key, time_t t, MsPathMemoHit *hit);

/* Remember a valid validation made at t (see the invariants for when it is kept). */
extern void ms_path_memo_store(const MsPathMemoKey *key, MsPki *pki, X509 *cert,
							   STACK_OF(X509) *untrusted, time_t t,
							   const MsPathMemoHit *result);

/* entries held and hits since the backend started */
extern void ms_path_memo_counts(int64 *entries, int64 *hits);

#endif							/* MOBISIGN_PATH_MEMO_H */
