/*
 * signer_menu.h
 *	  What the differential test of extension/signer_verify.c
 *	  (test_signer_verify.c) crosses, and what its fuzzer
 *	  (test/fuzz/fuzz_signer_verify.c) starts from: digests, signature
 *	  algorithms, and sets of signed attributes (DER and BER, well and
 *	  badly formed).  Call sc_menu_init() first.
 */
#ifndef SIGNER_MENU_H
#define SIGNER_MENU_H

#include "signer_cms.h"

typedef struct ScDigest
{
	const char *name;
	const char *oid;
	const EVP_MD *(*md) (void); /* what the signature is made with */
	bool		common;			/* a digest the fast path is for */
} ScDigest;

typedef enum
{
	SC_P_ABSENT,
	SC_P_NULL,
	SC_P_PSS_SHA256,
	SC_P_GARBAGE
} ScParams;

typedef struct ScSigAlg
{
	const char *name;
	const char *oid;
	ScParams	params;
	bool		rsa_v15;		/* an RSA PKCS#1 v1.5 form the fast path is for */
} ScSigAlg;

extern const ScDigest sc_digests[];
extern const int sc_n_digests;
extern const ScSigAlg sc_sigalgs[];
extern const int sc_n_sigalgs;

extern void sc_menu_init(void);
extern void sc_menu_free(void);

/* s's signatureAlgorithm := a */
extern void sc_set_sigalg(ScSpec *s, const ScSigAlg *a);

/* the usual attributes: contentType id-data, messageDigest, signingTime (if st) */
extern void sc_std_attrs(ScBuf *out, const EVP_MD *md, bool st);

/*
 * Signed attribute set number i (false past the last): its [0] content in
 * out, the [0]'s length form, unsigned attributes (content of [1]) in uns.
 */
extern bool sc_attr_variant(int i, const EVP_MD *md, ScBuf *out, ScLen *form, ScBuf *uns,
							const char **name);

#endif
