/*-------------------------------------------------------------------------
 *
 * ossl.h
 *	  OpenSSL helpers shared by the verification code: object lifetimes tied
 *	  to memory contexts, input parsing (DER or PEM) with clear errors, and
 *	  conversions between OpenSSL and PostgreSQL types.
 *
 * OpenSSL allocates with malloc, so an ereport(ERROR) between allocating an
 * object and freeing it would leak it.  An MsScope owns OpenSSL objects: it
 * is a memory context (a child of the caller's current context) whose reset
 * callback frees every registered object.  Normal code calls
 * ms_scope_release(); after an error, the transaction's memory cleanup
 * deletes the parent context, and the callback frees the objects just the
 * same.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_OSSL_H
#define MOBISIGN_OSSL_H

#include "postgres.h"

#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/array.h"

typedef void (*MsFreeFn) (void *obj);

typedef struct MsScope MsScope;

extern MsScope *ms_scope_create(void);
extern void ms_scope_release(MsScope *scope);

/* Register an object; returns it, so calls can be nested. NULL is ignored. */
extern void *ms_scope_add(MsScope *scope, void *obj, MsFreeFn freefn);

/* Take an object back (the caller now owns it). */
extern void ms_scope_forget(MsScope *scope, void *obj);

/*
 * MS_SCOPE_FREE_FN(name, Type, free_call);  defines "static void name(void *)",
 * which frees a Type with free_call: the MsFreeFn to give ms_scope_add() for
 * a type that has no shorthand below, without a function-pointer cast.
 */
#define MS_SCOPE_FREE_FN(name, Type, free_call) \
	static void \
	name(void *p) \
	{ \
		free_call((Type *) p); \
	} \
	extern int no_such_variable

/* Typed shorthands */
extern X509 *ms_scope_x509(MsScope *scope, X509 *x);
extern X509_CRL *ms_scope_crl(MsScope *scope, X509_CRL *crl);
extern EVP_PKEY *ms_scope_pkey(MsScope *scope, EVP_PKEY *pkey);
extern STACK_OF(X509) *ms_scope_x509_stack(MsScope *scope, STACK_OF(X509) *sk);
extern CMS_ContentInfo *ms_scope_cms(MsScope *scope, CMS_ContentInfo *cms);
extern BIO *ms_scope_bio(MsScope *scope, BIO *bio);
extern X509_STORE_CTX *ms_scope_store_ctx(MsScope *scope, X509_STORE_CTX *ctx);
extern EVP_MD_CTX *ms_scope_md_ctx(MsScope *scope, EVP_MD_CTX *ctx);

/*
 * The most specific message in OpenSSL's error queue (palloc'd), or
 * "unknown OpenSSL error"; the queue is cleared.
 */
extern char *ms_ossl_error(void);

/*
 * Parsing of caller input (the checks live in input/der_input.h).  Each
 * accepts DER, or PEM holding exactly one object; anything else ends in
 * ereport(ERROR) with SQLSTATE 22P03 and a message naming "what" (e.g.
 * "certificate", "trust anchor 2").
 */
extern X509 *ms_parse_certificate(MsScope *scope, const char *what,
								  const unsigned char *data, size_t len);
extern X509 *ms_parse_certificate_bytea(MsScope *scope, const char *what, bytea *b);
extern X509_CRL *ms_parse_crl_bytea(MsScope *scope, const char *what, bytea *b);

/* A certificate or a SubjectPublicKeyInfo (DER or PEM). */
extern EVP_PKEY *ms_parse_public_key_bytea(MsScope *scope, const char *what, bytea *b);

/*
 * Certificates from a bytea[] (NULL array gives an empty stack).  NULL
 * elements and arrays longer than max_items are errors.
 */
extern STACK_OF(X509) *ms_parse_certificate_array(MsScope *scope, const char *what,
												  ArrayType *arr, int max_items);

/* Conversions */
extern char *ms_name_text(const X509_NAME *name);	/* RFC 2253, palloc'd */
extern TimestampTz ms_asn1_time_to_timestamptz(const ASN1_TIME *t);
extern time_t ms_timestamptz_to_time_t(TimestampTz t);
extern bytea *ms_x509_to_bytea(X509 *x);
extern bytea *ms_crl_to_bytea(X509_CRL *crl);
extern char *ms_hex(const unsigned char *data, size_t len);	/* lower-case, palloc'd */
extern bytea *ms_bytea(const void *data, size_t len);	/* palloc'd copy */
extern Datum ms_text_array(List *strings);	/* text[] from a List of char * */
extern Datum ms_bytea_array(List *byteas);	/* bytea[] from a List of bytea * */
extern void ms_sha256(const unsigned char *data, size_t len, unsigned char out[32]);
extern char *ms_x509_fingerprint_hex(X509 *x);	/* SHA-256 of the DER, hex */
extern char *ms_asn1_integer_text(const ASN1_INTEGER *i);	/* decimal, palloc'd */
/* upper-case hex as BN_bn2hex writes it (how mobisign stores serial numbers); "" if unreadable */
extern char *ms_asn1_integer_hex(const ASN1_INTEGER *i);
extern char *ms_obj_text(const ASN1_OBJECT *obj);	/* dotted OID, palloc'd */

#endif							/* MOBISIGN_OSSL_H */
