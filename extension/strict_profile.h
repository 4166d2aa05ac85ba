/*-------------------------------------------------------------------------
 *
 * strict_profile.h
 *	  The 'strict' PKI profile: RFC 5280 rules that OpenSSL's path validation
 *	  does not enforce, checked on a path OpenSSL has already validated;
 *	  validity at exactly notAfter; alternative paths when the one OpenSSL
 *	  built fails on name constraints (docs/verification.md, "Profiles").
 *
 * Invariants:
 * - Every rule is in MS_STRICT_RULE_LIST and nowhere else: its RFC 5280
 *	 section and the words of its reason.  A refusal is status 425
 *	 (ERROR_CERTIFICATE, domain.h) with the reason
 *	 "<words>[: <value>] (RFC 5280 <section>) (depth <d>: <subject>)".
 * - The path is OpenSSL's validated chain, end entity first, trust anchor
 *	 last.  The anchor is an input to path validation (RFC 5280 6.1.1 (d)),
 *	 not part of the path: no rule applies to it except DNS_CONSTRAINT_SYNTAX,
 *	 because OpenSSL enforces an anchor's nameConstraints too.
 * - The checks only ever refuse: a path they pass is exactly the path OpenSSL
 *	 validated.  The profile 'compatible' calls none of this file.
 * - Everything decoded here is owned by an MsScope (nothing leaks on ERROR).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_STRICT_PROFILE_H
#define MOBISIGN_STRICT_PROFILE_H

#include "postgres.h"

#include <time.h>

#include <openssl/x509.h>

#include "ossl.h"

/*
 * X(ID, section, words, applies to): the rules, in the order they are
 * checked for each certificate (end entity first).  "path" is every
 * certificate but the anchor; "CA" is a path certificate above the end
 * entity or one that asserts cA.
 */
#define MS_STRICT_RULE_LIST(X) \
	X(SERIAL_NOT_POSITIVE, "4.1.2.2", "the serial number is not a positive integer", "path") \
	X(SERIAL_TOO_LONG, "4.1.2.2", "the serial number is longer than 20 octets", "path") \
	X(CA_EMPTY_SUBJECT, "4.1.2.6", "a CA certificate has an empty subject", "CA") \
	X(CA_BASIC_CONSTRAINTS, "4.2.1.9", "a CA certificate's basicConstraints is missing or not critical", "CA") \
	X(CA_NO_SUBJECT_KEY_ID, "4.2.1.2", "a CA certificate has no subjectKeyIdentifier", "CA") \
	X(NO_AUTHORITY_KEY_ID, "4.2.1.1", "a certificate that is not self-signed has no authorityKeyIdentifier keyIdentifier", "path") \
	X(KEY_CERT_SIGN_NOT_CA, "4.2.1.3, 4.2.1.9", "keyUsage asserts keyCertSign but basicConstraints does not assert cA", "path") \
	X(EMPTY_EXTENDED_KEY_USAGE, "4.2.1.12", "the extendedKeyUsage extension is empty", "path") \
	X(POLICY_CONSTRAINTS_NOT_CRITICAL, "4.2.1.11", "the policyConstraints extension is not critical", "path") \
	X(EMPTY_SUBJECT_SAN, "4.2.1.6", "the subject is empty and subjectAltName is missing or not critical", "path") \
	X(DNS_NAME_SYNTAX, "4.2.1.6", "a subjectAltName dNSName is not in preferred name syntax", "path") \
	X(NAME_CONSTRAINTS_NOT_CRITICAL, "4.2.1.10", "the nameConstraints extension is not critical", "path") \
	X(DNS_CONSTRAINT_SYNTAX, "4.2.1.10", "a dNSName name constraint is not a domain name", "path and anchor") \
	X(WILDCARD_EXCLUDED, "4.2.1.10", "a wildcard dNSName stands for a name in an excluded subtree", "path")

#define MS_STRICT_RULE_ENUM_ENTRY(id, section, words, applies) MS_STRICT_##id,
typedef enum MsStrictRule
{
	MS_STRICT_RULE_LIST(MS_STRICT_RULE_ENUM_ENTRY)
	MS_STRICT_NRULES
} MsStrictRule;
#undef MS_STRICT_RULE_ENUM_ENTRY

/* At most this many paths are tried for one validation (the first included). */
#define MS_STRICT_MAX_PATHS 8

/*
 * Check the validated path (end entity first, anchor last).  true when every
 * rule holds; else false and *reason (palloc'd) names the first rule broken.
 */
extern bool ms_strict_check(STACK_OF(X509) *chain, char **reason);

/*
 * For the verify callback: is err OpenSSL refusing the current certificate
 * at exactly its notAfter?  RFC 5280 4.1.2.5: the validity period includes
 * notAfter (OpenSSL already includes notBefore).
 */
extern bool ms_strict_valid_at_not_after(X509_STORE_CTX *ctx, int err, time_t at);

/* Might another path through other certificates not fail with err (name constraints)? */
extern bool ms_strict_path_dependent(int err);

/*
 * Alternative paths: the first certificate of the failed chain (above the
 * end entity, below the anchor) that is not yet in excluded and has an
 * alternative in one of the pools (another certificate with the same
 * subject and public key: a cross-certificate) is added to excluded.  false
 * when there is none left to try.
 */
extern bool ms_strict_exclude_alternative(STACK_OF(X509) *chain, STACK_OF(X509) *const *pools,
										  int npools, STACK_OF(X509) *excluded);

/* pool without the certificates in excluded (a new stack owned by scope; pool may be NULL) */
extern STACK_OF(X509) *ms_strict_without(MsScope *scope, STACK_OF(X509) *pool,
										 STACK_OF(X509) *excluded);

#endif							/* MOBISIGN_STRICT_PROFILE_H */
