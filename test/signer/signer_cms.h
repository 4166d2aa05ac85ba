/*
 * signer_cms.h
 *	  Test inputs for extension/signer_verify.c, made at run time: keys and
 *	  self-signed certificates, CMS SignedData built byte by byte around a
 *	  given encoding of the signed attributes (any bytes: DER, BER, broken),
 *	  signed as sent or as OpenSSL re-encodes them, and the differential
 *	  oracle: the fast path (ms_signer_attrs_verified) against OpenSSL's own
 *	  CMS_SignerInfo_verify() and CMS_verify() (sc_check, signer_oracle.c).  Shared by
 *	  test/signer/test_signer_verify.c and test/fuzz/fuzz_signer_verify.c.
 *
 * Invariant checked (sc_check): the fast path accepts only what
 * CMS_SignerInfo_verify() accepts, and the verifier's answer (the fast
 * path, else CMS_SignerInfo_verify(), then the content's digest, as
 * cms_verify.c's verify_signature() does) is CMS_verify()'s with
 * CMS_NO_SIGNER_CERT_VERIFY.
 */
#ifndef SIGNER_CMS_H
#define SIGNER_CMS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* a growing byte buffer (abort()s when out of memory) */
typedef struct ScBuf
{
	unsigned char *p;
	size_t		len;
	size_t		cap;
} ScBuf;

extern void sc_put(ScBuf *b, const void *p, size_t n);
extern void sc_free(ScBuf *b);

/* how a length is written: DER, long form with a leading zero byte, or indefinite (constructed) */
typedef enum
{
	SC_LEN_DER,
	SC_LEN_LONG,
	SC_LEN_INDEF
} ScLen;

/* tag, length (as form says), content */
extern void sc_tlv(ScBuf *out, int tag, const void *content, size_t n, ScLen form);
/* an OBJECT IDENTIFIER's TLV from its dotted form */
extern void sc_oid(ScBuf *out, const char *dotted);
/* an AlgorithmIdentifier: params NULL = absent, else those bytes (a TLV) */
extern void sc_algid(ScBuf *out, const char *dotted, const void *params, size_t plen);

/* a signer: key, its self-signed certificate */
typedef struct ScKey
{
	const char *name;
	EVP_PKEY   *pkey;
	X509	   *cert;
	bool		rsa;			/* RSA or RSA-PSS: PKCS#1 v1.5 or PSS padding possible */
} ScKey;

typedef enum
{
	SC_KEY_RSA,
	SC_KEY_RSA_PSS,
	SC_KEY_EC_P256,
	SC_KEY_EC_P384,
	SC_KEY_ED25519
} ScKeyType;

extern void sc_key_make(ScKey *k, const char *name, ScKeyType type);
extern void sc_key_free(ScKey *k);

/* how a SignedData is made */
typedef struct ScSpec
{
	const char *digest_oid;		/* the SignerInfo's digestAlgorithm */
	const unsigned char *digest_params; /* NULL: absent */
	size_t		digest_plen;
	const char *sig_oid;		/* signatureAlgorithm */
	const unsigned char *sig_params;	/* NULL: absent */
	size_t		sig_plen;
	const EVP_MD *sign_md;		/* digest the signature is made with (NULL: none, Ed25519) */
	bool		pss;			/* sign with PSS padding (salt = digest length) */
	const unsigned char *attrs; /* the content of the [0] signedAttrs */
	size_t		attrs_len;
	ScLen		attrs_form;		/* the length form of the [0] */
	const unsigned char *unsigned_attrs;	/* content of [1] unsignedAttrs, NULL: none */
	size_t		unsigned_len;
	const struct ScKey *named;	/* whose certificate the sid names (NULL: the signer's) */
} ScSpec;

/* what is signed */
typedef enum
{
	SC_SIGN_AS_SENT,			/* the received bytes with a SET tag (RFC 5652) */
	SC_SIGN_REENCODED,			/* OpenSSL's re-encoding of the parsed attributes */
	SC_SIGN_SORTED,				/* the attributes as a DER SET OF (sorted) */
	SC_SIGN_GIVEN				/* sig/siglen given as they are */
} ScSignWhat;

/*
 * The SignedData's DER (appended to out): spec's SignerInfo with a signature
 * made by signer over what says (or the given bytes).  false when the
 * re-encoding is asked for and the attributes do not parse, or signing fails.
 * made (if not NULL) receives the signature.
 */
extern bool sc_build(ScBuf *out, const ScSpec *spec, const ScKey *signer, ScSignWhat what,
					 const unsigned char *sig, size_t siglen, ScBuf *made);

/* results of one input through both paths */
typedef struct ScResult
{
	bool		parsed;			/* the SignedData parsed with one SignerInfo */
	bool		fast;			/* ms_signer_attrs_verified() */
	bool		reference;		/* CMS_SignerInfo_verify() > 0 */
	bool		verifier;		/* cms_verify.c's answer: (fast || reference) and the content's digest */
	bool		full;			/* CMS_verify(NO_SIGNER_CERT_VERIFY) */
	bool		agree;			/* fast => reference, and verifier == full */
} ScResult;

/* der through the fast path and OpenSSL's, verified with key's certificate */
extern ScResult sc_check(const unsigned char *der, size_t len, const ScKey *key);

/* signed attributes of the test menu (DER content of the [0]) */
extern void sc_attr_content_type(ScBuf *out, const char *oid);
extern void sc_attr_message_digest(ScBuf *out, const unsigned char *md, size_t n);
extern void sc_attr_signing_time(ScBuf *out, bool generalized);
/* an attribute: oid, its SET of values (values: concatenated TLVs) */
extern void sc_attr(ScBuf *out, const char *oid, const void *values, size_t n, ScLen setform);

/* the eContent every SignedData carries, and its digest with md */
extern const unsigned char sc_content[];
extern const size_t sc_content_len;
extern void sc_content_digest(const EVP_MD *md, unsigned char *out, unsigned int *n);

#endif
