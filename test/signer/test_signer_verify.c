/*
 * test_signer_verify.c
 *	  Differential test of extension/signer_verify.c (the SignerInfo's
 *	  signature over its signed attributes with a prepared context) against
 *	  OpenSSL's CMS_SignerInfo_verify() and CMS_verify(), on SignedData made
 *	  at run time (signer_cms.c): RSA-2048, RSA-PSS, P-256, P-384 and Ed25519
 *	  keys; digests and signature algorithms crossed (matching, mismatched,
 *	  PSS, signature OIDs as digests, unknown); signed attributes reordered,
 *	  duplicated, missing, extra, of wrong type or length, very long, in BER;
 *	  signatures over the bytes as sent, as OpenSSL re-encodes them, sorted,
 *	  flipped, truncated, by another key; random edits of the attributes
 *	  signed again, and random edits of the whole SignedData.  Every input:
 *	  the fast path accepts only what OpenSSL accepts, and the verifier's
 *	  answer is OpenSSL's (signer_cms.h).  The forms the fast path is for
 *	  must be handled by it (so a disabled fast path fails too).
 *	  TAP output; exit status 1 if any test fails.  Built and run by
 *	  test/signer/run.sh.  SIGNER_SEED=N changes the random edits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "signer_cms.h"

static int	n_tests = 0;
static int	n_failed = 0;

static void
ok(int cond, const char *what)
{
	n_tests++;
	if (!cond)
		n_failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n_tests, what);
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (unsigned) (rng % n) : 0;
}

/* one class of inputs: how many, how many OpenSSL accepted, how many the fast path did */
typedef struct Tally
{
	const char *name;
	int			inputs;
	int			unparsed;
	int			reference;
	int			fast;
	int			disagree;
} Tally;

static int	total_inputs = 0;
static int	total_disagree = 0;

static void
hexdump(const unsigned char *p, size_t n)
{
	printf("#   der ");
	for (size_t i = 0; i < n && i < 600; i++)
		printf("%02x", p[i]);
	printf("%s\n", n > 600 ? "..." : "");
}

/* one input through both paths; returns the result */
static ScResult
run(Tally *t, const ScBuf *der, const ScKey *verifier, const char *label)
{
	ScResult	r = sc_check(der->p, der->len, verifier);

	t->inputs++;
	total_inputs++;
	if (!r.parsed)
		t->unparsed++;
	t->reference += r.reference;
	t->fast += r.fast;
	if (!r.agree)
	{
		t->disagree++;
		total_disagree++;
		if (t->disagree <= 5)
		{
			printf("# DISAGREE %s: %s: fast %d, CMS_SignerInfo_verify %d, verifier %d, CMS_verify %d\n",
				   t->name, label, r.fast, r.reference, r.verifier, r.full);
			hexdump(der->p, der->len);
		}
	}
	return r;
}

static void
report(const Tally *t)
{
	char		what[256];

	printf("# %s: %d inputs (%d not parsed), OpenSSL accepted %d, the fast path %d, disagreements %d\n",
		   t->name, t->inputs, t->unparsed, t->reference, t->fast, t->disagree);
	snprintf(what, sizeof(what), "%s: %d inputs, the fast path and OpenSSL agree on all", t->name, t->inputs);
	ok(t->inputs > 0 && t->disagree == 0, what);
}

/* ------------------------------------------------------------ the menus */

typedef struct Digest
{
	const char *name;
	const char *oid;
	const EVP_MD *(*md) (void);
	bool		common;			/* a digest the fast path is for */
} Digest;

static const Digest digests[] = {
	{"sha256", "2.16.840.1.101.3.4.2.1", EVP_sha256, true},
	{"sha1", "1.3.14.3.2.26", EVP_sha1, true},
	{"sha224", "2.16.840.1.101.3.4.2.4", EVP_sha224, true},
	{"sha384", "2.16.840.1.101.3.4.2.2", EVP_sha384, true},
	{"sha512", "2.16.840.1.101.3.4.2.3", EVP_sha512, true},
	{"sha512-256", "2.16.840.1.101.3.4.2.6", EVP_sha512_256, false},
	{"sha3-256", "2.16.840.1.101.3.4.2.8", EVP_sha3_256, false},
	{"md5", "1.2.840.113549.2.5", EVP_md5, false},
	{"ripemd160", "1.3.36.3.2.1", EVP_ripemd160, false},
	{"sm3", "1.2.156.10197.1.401", EVP_sm3, false},
	{"shake256 (signed with sha256)", "2.16.840.1.101.3.4.2.12", EVP_sha256, false},
	{"sha256WithRSAEncryption as digest", "1.2.840.113549.1.1.11", EVP_sha256, false},
	{"ecdsa-with-SHA256 as digest", "1.2.840.10045.4.3.2", EVP_sha256, false},
	{"rsaEncryption as digest", "1.2.840.113549.1.1.1", EVP_sha256, false},
	{"unknown OID as digest", "1.2.3.4.5.6", EVP_sha256, false},
	{"sha256 OID, signed with sha384", "2.16.840.1.101.3.4.2.1", EVP_sha384, false},
};
#define N_DIGESTS ((int) (sizeof(digests) / sizeof(digests[0])))

typedef enum
{
	P_ABSENT,
	P_NULL,
	P_PSS_SHA256,
	P_GARBAGE
} Params;

typedef struct SigAlg
{
	const char *name;
	const char *oid;
	Params		params;
	bool		rsa_v15;		/* an RSA PKCS#1 v1.5 form the fast path is for */
} SigAlg;

static const SigAlg sigalgs[] = {
	{"rsaEncryption NULL", "1.2.840.113549.1.1.1", P_NULL, true},
	{"rsaEncryption absent", "1.2.840.113549.1.1.1", P_ABSENT, true},
	{"rsaEncryption INTEGER params", "1.2.840.113549.1.1.1", P_GARBAGE, true},
	{"sha256WithRSAEncryption", "1.2.840.113549.1.1.11", P_NULL, true},
	{"sha1WithRSAEncryption", "1.2.840.113549.1.1.5", P_NULL, true},
	{"sha512WithRSAEncryption", "1.2.840.113549.1.1.13", P_NULL, true},
	{"md5WithRSAEncryption", "1.2.840.113549.1.1.4", P_NULL, true},
	{"RSA-SHA3-256", "2.16.840.1.101.3.4.3.14", P_ABSENT, true},
	{"sha1WithRSA (OIW)", "1.3.14.3.2.29", P_NULL, false},
	{"rsassaPss sha256", "1.2.840.113549.1.1.10", P_PSS_SHA256, false},
	{"rsassaPss absent", "1.2.840.113549.1.1.10", P_ABSENT, false},
	{"rsaesOaep", "1.2.840.113549.1.1.7", P_ABSENT, false},
	{"ecdsa-with-SHA256", "1.2.840.10045.4.3.2", P_ABSENT, false},
	{"ecdsa-with-SHA384", "1.2.840.10045.4.3.3", P_ABSENT, false},
	{"id-ecPublicKey", "1.2.840.10045.2.1", P_ABSENT, false},
	{"Ed25519", "1.3.101.112", P_ABSENT, false},
	{"dsa-with-sha256", "2.16.840.1.101.3.4.3.2", P_ABSENT, false},
	{"unknown OID", "1.2.3.4.5.7", P_NULL, false},
};
#define N_SIGALGS ((int) (sizeof(sigalgs) / sizeof(sigalgs[0])))

static ScBuf pss_params;

static void
make_pss_params(void)
{
	ScBuf		h = {0},
				t = {0},
				c = {0},
				m = {0};

	sc_algid(&h, "2.16.840.1.101.3.4.2.1", "\x05\x00", 2);
	sc_tlv(&c, 0xa0, h.p, h.len, SC_LEN_DER);
	sc_oid(&m, "1.2.840.113549.1.1.8");
	sc_put(&m, h.p, h.len);
	sc_tlv(&t, 0x30, m.p, m.len, SC_LEN_DER);
	sc_tlv(&c, 0xa1, t.p, t.len, SC_LEN_DER);
	sc_tlv(&c, 0xa2, "\x02\x01\x20", 3, SC_LEN_DER);
	sc_tlv(&pss_params, 0x30, c.p, c.len, SC_LEN_DER);
	sc_free(&h);
	sc_free(&t);
	sc_free(&c);
	sc_free(&m);
}

static void
set_sigalg(ScSpec *s, const SigAlg *a)
{
	s->sig_oid = a->oid;
	switch (a->params)
	{
		case P_ABSENT:
			s->sig_params = NULL;
			s->sig_plen = 0;
			break;
		case P_NULL:
			s->sig_params = (const unsigned char *) "\x05\x00";
			s->sig_plen = 2;
			break;
		case P_PSS_SHA256:
			s->sig_params = pss_params.p;
			s->sig_plen = pss_params.len;
			break;
		case P_GARBAGE:
			s->sig_params = (const unsigned char *) "\x02\x01\x05";
			s->sig_plen = 3;
			break;
	}
}

/* the usual attributes: contentType id-data, messageDigest, signingTime (if st) */
static void
std_attrs(ScBuf *out, const EVP_MD *md, bool st)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	sc_attr_content_type(out, "1.2.840.113549.1.7.1");
	sc_content_digest(md, d, &n);
	sc_attr_message_digest(out, d, n);
	if (st)
		sc_attr_signing_time(out, false);
}

/* an OID's TLV with a long-form length */
static void
oid_long(ScBuf *out, const char *dotted)
{
	ScBuf		o = {0};

	sc_oid(&o, dotted);
	sc_tlv(out, 0x06, o.p + 2, o.len - 2, SC_LEN_LONG);
	sc_free(&o);
}

#define CT "1.2.840.113549.1.9.3"
#define MDA "1.2.840.113549.1.9.4"
#define ST "1.2.840.113549.1.9.5"
#define ID_DATA "1.2.840.113549.1.7.1"

/*
 * Signed attribute set number i (false past the last): its [0] content in
 * out, the [0]'s length form, unsigned attributes (content of [1]) in uns.
 */
static bool
attr_variant(int i, const EVP_MD *md, ScBuf *out, ScLen *form, ScBuf *uns, const char **name)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	ScBuf		ct = {0},
				mdv = {0},
				st = {0},
				v = {0},
				w = {0};
	bool		more = true;

	*form = SC_LEN_DER;
	sc_content_digest(md, d, &n);
	sc_attr_content_type(&ct, ID_DATA);
	sc_attr_message_digest(&mdv, d, n);
	sc_attr_signing_time(&st, false);
#define CAT(b) sc_put(out, (b).p, (b).len)
	switch (i)
	{
		case 0:
			*name = "contentType, messageDigest";
			CAT(ct), CAT(mdv);
			break;
		case 1:
			*name = "contentType, messageDigest, signingTime (UTCTime)";
			CAT(ct), CAT(mdv), CAT(st);
			break;
		case 2:
			*name = "signingTime as GeneralizedTime";
			CAT(ct), CAT(mdv);
			sc_attr_signing_time(out, true);
			break;
		case 3:
			*name = "messageDigest, contentType (reordered)";
			CAT(mdv), CAT(ct);
			break;
		case 4:
			*name = "signingTime, messageDigest, contentType (reordered)";
			CAT(st), CAT(mdv), CAT(ct);
			break;
		case 5:
			*name = "contentType twice";
			CAT(ct), CAT(ct), CAT(mdv);
			break;
		case 6:
			*name = "messageDigest twice";
			CAT(ct), CAT(mdv), CAT(mdv);
			break;
		case 7:
			*name = "signingTime twice";
			CAT(ct), CAT(mdv), CAT(st), CAT(st);
			break;
		case 8:
			*name = "contentType only";
			CAT(ct);
			break;
		case 9:
			*name = "messageDigest only";
			CAT(mdv);
			break;
		case 10:
			*name = "signingTime only";
			CAT(st);
			break;
		case 11:
			*name = "an unknown attribute besides";
			CAT(ct), CAT(mdv);
			sc_tlv(&v, 0x0c, "x", 1, SC_LEN_DER);
			sc_attr(out, "1.2.3.4.5.99", v.p, v.len, SC_LEN_DER);
			break;
		case 12:
			*name = "smimeCapabilities besides";
			CAT(ct), CAT(mdv);
			sc_tlv(&v, 0x30, "", 0, SC_LEN_DER);
			sc_attr(out, "1.2.840.113549.1.9.15", v.p, v.len, SC_LEN_DER);
			break;
		case 13:
			*name = "signingCertificateV2 (garbage) besides";
			CAT(ct), CAT(mdv);
			sc_tlv(&v, 0x30, "\x04\x01\x00", 3, SC_LEN_DER);
			sc_attr(out, "1.2.840.113549.1.9.16.2.47", v.p, v.len, SC_LEN_DER);
			break;
		case 14:
			*name = "countersignature among the signed attributes";
			CAT(ct), CAT(mdv);
			sc_tlv(&v, 0x30, "\x02\x01\x01", 3, SC_LEN_DER);
			sc_attr(out, "1.2.840.113549.1.9.6", v.p, v.len, SC_LEN_DER);
			break;
		case 15:
			*name = "contentType signedData (not the eContentType)";
			sc_attr_content_type(out, "1.2.840.113549.1.7.2");
			CAT(mdv);
			break;
		case 16:
			*name = "contentType with two values";
			sc_oid(&v, ID_DATA);
			sc_oid(&v, "1.2.840.113549.1.7.2");
			sc_attr(out, CT, v.p, v.len, SC_LEN_DER);
			CAT(mdv);
			break;
		case 17:
			*name = "messageDigest with two values";
			CAT(ct);
			sc_tlv(&v, 0x04, d, n, SC_LEN_DER);
			sc_tlv(&v, 0x04, d, n, SC_LEN_DER);
			sc_attr(out, MDA, v.p, v.len, SC_LEN_DER);
			break;
		case 18:
			*name = "messageDigest with no value";
			CAT(ct);
			sc_attr(out, MDA, "", 0, SC_LEN_DER);
			break;
		case 19:
			*name = "messageDigest one byte short";
			CAT(ct);
			sc_attr_message_digest(out, d, n - 1);
			break;
		case 20:
			*name = "messageDigest empty";
			CAT(ct);
			sc_attr_message_digest(out, d, 0);
			break;
		case 21:
			*name = "messageDigest an INTEGER";
			CAT(ct);
			sc_tlv(&v, 0x02, "\x01\x02", 2, SC_LEN_DER);
			sc_attr(out, MDA, v.p, v.len, SC_LEN_DER);
			break;
		case 22:
			{
				unsigned char *big = calloc(1, 70000);

				*name = "messageDigest of 70,000 bytes";
				CAT(ct);
				memcpy(big, d, n);
				sc_attr_message_digest(out, big, 70000);
				free(big);
				break;
			}
		case 23:
			{
				char	   *big = malloc(5000);

				*name = "signingTime of 5,000 bytes";
				memset(big, '9', 5000);
				CAT(ct), CAT(mdv);
				sc_tlv(&v, 0x17, big, 5000, SC_LEN_DER);
				sc_attr(out, ST, v.p, v.len, SC_LEN_DER);
				free(big);
				break;
			}
		case 24:
			*name = "signingTime an INTEGER";
			CAT(ct), CAT(mdv);
			sc_tlv(&v, 0x02, "\x05", 1, SC_LEN_DER);
			sc_attr(out, ST, v.p, v.len, SC_LEN_DER);
			break;
		case 25:
			*name = "contentType a BOOLEAN";
			sc_tlv(&v, 0x01, "\xff", 1, SC_LEN_DER);
			sc_attr(out, CT, v.p, v.len, SC_LEN_DER);
			CAT(mdv);
			break;
		case 26:
			*name = "no signed attributes (empty [0])";
			break;
		case 27:
			*name = "[0] with a long-form length";
			CAT(ct), CAT(mdv), CAT(st);
			*form = SC_LEN_LONG;
			break;
		case 28:
			*name = "[0] with an indefinite length";
			CAT(ct), CAT(mdv), CAT(st);
			*form = SC_LEN_INDEF;
			break;
		case 29:
			*name = "attribute SEQUENCEs with long-form lengths";
			sc_oid(&v, CT);
			sc_oid(&w, ID_DATA);
			sc_tlv(&v, 0x31, w.p, w.len, SC_LEN_DER);
			sc_tlv(out, 0x30, v.p, v.len, SC_LEN_LONG);
			v.len = w.len = 0;
			sc_oid(&v, MDA);
			sc_tlv(&w, 0x04, d, n, SC_LEN_DER);
			sc_tlv(&v, 0x31, w.p, w.len, SC_LEN_LONG);
			sc_tlv(out, 0x30, v.p, v.len, SC_LEN_LONG);
			break;
		case 30:
			*name = "a value SET with an indefinite length";
			CAT(ct);
			sc_tlv(&v, 0x04, d, n, SC_LEN_DER);
			sc_attr(out, MDA, v.p, v.len, SC_LEN_INDEF);
			break;
		case 31:
			*name = "messageDigest OCTET STRING with a long-form length";
			CAT(ct);
			sc_tlv(&v, 0x04, d, n, SC_LEN_LONG);
			sc_attr(out, MDA, v.p, v.len, SC_LEN_DER);
			break;
		case 32:
			*name = "attribute OIDs with long-form lengths";
			oid_long(&v, CT);
			oid_long(&w, ID_DATA);
			sc_tlv(&v, 0x31, w.p, w.len, SC_LEN_DER);
			sc_tlv(out, 0x30, v.p, v.len, SC_LEN_DER);
			CAT(mdv);
			break;
		case 33:
			*name = "an unsigned attribute (unknown)";
			CAT(ct), CAT(mdv);
			sc_tlv(&v, 0x0c, "x", 1, SC_LEN_DER);
			sc_attr(uns, "1.2.3.4.5.99", v.p, v.len, SC_LEN_DER);
			break;
		case 34:
			*name = "an unsigned contentType";
			CAT(ct), CAT(mdv);
			sc_put(uns, ct.p, ct.len);
			break;
		case 35:
			*name = "a constructed BER OCTET STRING as messageDigest";
			CAT(ct);
			sc_tlv(&w, 0x04, d, n / 2, SC_LEN_DER);
			sc_tlv(&w, 0x04, d + n / 2, n - n / 2, SC_LEN_DER);
			sc_tlv(&v, 0x24, w.p, w.len, SC_LEN_INDEF);
			sc_attr(out, MDA, v.p, v.len, SC_LEN_DER);
			break;
		case 36:
			*name = "signingTime a SEQUENCE";
			CAT(ct), CAT(mdv);
			sc_tlv(&v, 0x30, "\x02\x01\x01\x02\x01\x02", 6, SC_LEN_DER);
			sc_attr(out, ST, v.p, v.len, SC_LEN_DER);
			break;
		case 37:
			*name = "300 signingTime attributes";
			CAT(ct), CAT(mdv);
			for (int k = 0; k < 300; k++)
				CAT(st);
			break;
		default:
			more = false;
	}
#undef CAT
	sc_free(&ct);
	sc_free(&mdv);
	sc_free(&st);
	sc_free(&v);
	sc_free(&w);
	return more;
}

/* ------------------------------------------------------------ keys */

enum
{
	K_RSA_A, K_RSA_B, K_PSS, K_EC_A, K_EC_B, K_EC384, K_ED, N_KEYS
};
static ScKey keys[N_KEYS];

/* another key of the same kind (for "signed by a different key") */
static const ScKey *
other_key(int k)
{
	switch (k)
	{
		case K_RSA_A:
			return &keys[K_RSA_B];
		case K_RSA_B:
		case K_PSS:
			return &keys[K_RSA_A];
		case K_EC_A:
			return &keys[K_EC_B];
		default:
			return &keys[K_EC_A];
	}
}

static const EVP_MD *
sign_md_for(int k, const EVP_MD *md)
{
	return k == K_ED ? NULL : md;
}

/* ------------------------------------------------------------ classes */

/* keys x digests x signature algorithms x padding, the usual attributes signed as sent */
static void
class_algorithms(void)
{
	Tally		t = {"algorithms (keys x digests x signature algorithms x padding)", 0, 0, 0, 0, 0};
	ScBuf		attrs = {0},
				der = {0};
	char		label[256];

	for (int k = 0; k < N_KEYS; k++)
		for (int d = 0; d < N_DIGESTS; d++)
			for (int a = 0; a < N_SIGALGS; a++)
				for (int pss = 0; pss <= (keys[k].rsa ? 1 : 0); pss++)
				{
					const EVP_MD *md = digests[d].md();
					ScSpec		s = {0};

					attrs.len = der.len = 0;
					std_attrs(&attrs, md, (a + d) % 2 == 0);
					s.digest_oid = digests[d].oid;
					s.sign_md = sign_md_for(k, md);
					s.pss = pss;
					set_sigalg(&s, &sigalgs[a]);
					s.attrs = attrs.p;
					s.attrs_len = attrs.len;
					if (!sc_build(&der, &s, &keys[k], SC_SIGN_AS_SENT, NULL, 0, NULL))
						continue;	/* the key cannot make this signature */
					snprintf(label, sizeof(label), "%s, %s, %s, %s", keys[k].name, digests[d].name,
							 sigalgs[a].name, pss ? "PSS padding" : "default padding");
					run(&t, &der, &keys[k], label);
				}
	report(&t);
	sc_free(&attrs);
	sc_free(&der);
}

/* the forms the fast path is for: handled by it, and accepted */
static void
class_handled(void)
{
	Tally		t = {"handled forms (RSA-2048 PKCS#1 v1.5 and EC, usual digests, with and without signingTime)", 0, 0, 0, 0, 0};
	ScBuf		attrs = {0},
				der = {0};
	int			expected = 0,
				handled = 0;
	const int	ks[] = {K_RSA_A, K_RSA_B, K_EC_A, K_EC_B, K_EC384};
	char		label[256];

	for (int round = 0; round < 2; round++)	/* the second round from prepared contexts */
		for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
			for (int d = 0; d < N_DIGESTS; d++)
				for (int a = 0; a < N_SIGALGS; a++)
					for (int st = 0; st <= 1; st++)
					{
						int			k = ks[ki];
						const EVP_MD *md = digests[d].md();
						ScSpec		s = {0};
						ScResult	r;

						if (!digests[d].common ||
							(keys[k].rsa ? !sigalgs[a].rsa_v15 : strncmp(sigalgs[a].name, "ecdsa", 5) != 0))
							continue;
						attrs.len = der.len = 0;
						std_attrs(&attrs, md, st);
						s.digest_oid = digests[d].oid;
						s.sign_md = md;
						set_sigalg(&s, &sigalgs[a]);
						s.attrs = attrs.p;
						s.attrs_len = attrs.len;
						if (!sc_build(&der, &s, &keys[k], SC_SIGN_AS_SENT, NULL, 0, NULL))
							continue;
						snprintf(label, sizeof(label), "%s, %s, %s, %s", keys[k].name, digests[d].name,
								 sigalgs[a].name, st ? "signingTime" : "no signingTime");
						r = run(&t, &der, &keys[k], label);
						expected++;
						if (r.fast && r.reference)
							handled++;
						else if (expected - handled <= 5)
							printf("# not handled by the fast path: %s\n", label);
					}
	report(&t);
	printf("# handled by the fast path: %d of %d\n", handled, expected);
	ok(expected > 100 && handled == expected, "every form the fast path is for is verified by it");
	sc_free(&attrs);
	sc_free(&der);
}

/* one signing profile of the attribute and signature classes */
typedef struct Profile
{
	int			key;
	int			digest;			/* index in digests */
	int			sigalg;			/* index in sigalgs */
	bool		pss;
} Profile;

static const Profile profiles[] = {
	{K_RSA_A, 0, 3, false},		/* RSA sha256 / sha256WithRSAEncryption */
	{K_RSA_A, 1, 0, false},		/* RSA sha1 / rsaEncryption */
	{K_EC_A, 0, 12, false},		/* P-256 sha256 / ecdsa-with-SHA256 */
	{K_EC384, 3, 13, false},	/* P-384 sha384 / ecdsa-with-SHA384 */
	{K_RSA_A, 0, 9, true},		/* RSA sha256 / RSASSA-PSS */
	{K_PSS, 0, 9, true},		/* RSA-PSS key */
	{K_ED, 4, 15, false},		/* Ed25519 */
};
#define N_PROFILES ((int) (sizeof(profiles) / sizeof(profiles[0])))

static void
spec_for(ScSpec *s, const Profile *p)
{
	memset(s, 0, sizeof(*s));
	s->digest_oid = digests[p->digest].oid;
	s->sign_md = sign_md_for(p->key, digests[p->digest].md());
	s->pss = p->pss;
	set_sigalg(s, &sigalgs[p->sigalg]);
}

/* attribute sets x what is signed x profiles */
static void
class_attributes(void)
{
	Tally		t = {"signed attributes (sets x signatures x profiles)", 0, 0, 0, 0, 0};
	ScBuf		attrs = {0},
				uns = {0},
				der = {0},
				sig = {0};
	const char *aname;
	char		label[512];
	ScLen		form;

	for (int p = 0; p < N_PROFILES; p++)
		for (int i = 0;; i++)
		{
			const Profile *pr = &profiles[p];
			const ScKey *key = &keys[pr->key];
			ScSpec		s;
			bool		more;

			attrs.len = uns.len = 0;
			more = attr_variant(i, digests[pr->digest].md(), &attrs, &form, &uns, &aname);
			if (!more)
				break;
			spec_for(&s, pr);
			s.attrs = attrs.p;
			s.attrs_len = attrs.len;
			s.attrs_form = form;
			if (uns.len > 0)
			{
				s.unsigned_attrs = uns.p;
				s.unsigned_len = uns.len;
			}
			for (int w = 0; w < 7; w++)
			{
				static const char *const wn[] = {"signed as sent", "signed as re-encoded", "signed sorted",
					"a bit flipped", "signed by another key", "an empty signature", "one byte short"};

				der.len = sig.len = 0;
				s.named = NULL;
				switch (w)
				{
					case 0:
					case 1:
					case 2:
						if (!sc_build(&der, &s, key, (ScSignWhat) w, NULL, 0, NULL))
							continue;
						break;
					case 3:
					case 6:
						if (!sc_build(&der, &s, key, SC_SIGN_AS_SENT, NULL, 0, &sig) || sig.len == 0)
							continue;
						der.len = 0;
						if (w == 3)
							sig.p[rnd((unsigned) sig.len)] ^= (unsigned char) (1u << rnd(8));
						else
							sig.len--;
						sc_build(&der, &s, key, SC_SIGN_GIVEN, sig.p, sig.len, NULL);
						break;
					case 4:
						s.named = key;
						if (!sc_build(&der, &s, other_key(pr->key), SC_SIGN_AS_SENT, NULL, 0, NULL))
							continue;
						break;
					case 5:
						sc_build(&der, &s, key, SC_SIGN_GIVEN, NULL, 0, NULL);
						break;
				}
				snprintf(label, sizeof(label), "%s, %s, %s, %s: %s, %s", key->name, digests[pr->digest].name,
						 sigalgs[pr->sigalg].name, pr->pss ? "PSS" : "-", aname, wn[w]);
				run(&t, &der, key, label);
			}
		}
	report(&t);
	sc_free(&attrs);
	sc_free(&uns);
	sc_free(&der);
	sc_free(&sig);
}

/* one random edit of b: a byte changed, inserted or removed, or a length byte moved by one */
static void
edit(ScBuf *b)
{
	unsigned	op = rnd(5);
	size_t		pos = b->len ? rnd((unsigned) b->len) : 0;
	unsigned char c = (unsigned char) rnd(256);

	if (b->len == 0)
		op = 2;
	switch (op)
	{
		case 0:
			b->p[pos] ^= (unsigned char) (1u << rnd(8));
			break;
		case 1:
			b->p[pos] = c;
			break;
		case 2:
			sc_put(b, "", 1);
			memmove(b->p + pos + 1, b->p + pos, b->len - pos - 1);
			b->p[pos] = c;
			break;
		case 3:
			memmove(b->p + pos, b->p + pos + 1, b->len - pos - 1);
			b->len--;
			break;
		case 4:
			b->p[pos] += rnd(2) ? 1 : (unsigned char) 0xff;
			break;
	}
}

/* random edits of the signed attributes, then signed again (as sent and as re-encoded) */
static void
class_edited_attributes(int rounds)
{
	Tally		t = {"edited signed attributes, signed again", 0, 0, 0, 0, 0};
	ScBuf		attrs = {0},
				uns = {0},
				der = {0};
	const char *aname;
	ScLen		form;
	char		label[256];

	for (int r = 0; r < rounds; r++)
	{
		const Profile *pr = &profiles[r % 4];	/* RSA and EC profiles */
		ScSpec		s;
		int			base = (int) rnd(38);
		int			edits = 1 + (int) rnd(3);

		attrs.len = uns.len = 0;
		attr_variant(base, digests[pr->digest].md(), &attrs, &form, &uns, &aname);
		if (attrs.len > 2000)
			continue;			/* the long ones: edits there change nothing new */
		for (int e = 0; e < edits; e++)
			edit(&attrs);
		spec_for(&s, pr);
		s.attrs = attrs.p;
		s.attrs_len = attrs.len;
		s.attrs_form = (ScLen) rnd(3);
		for (int w = 0; w <= 1; w++)
		{
			der.len = 0;
			if (!sc_build(&der, &s, &keys[pr->key], (ScSignWhat) w, NULL, 0, NULL))
				continue;
			snprintf(label, sizeof(label), "round %d: %s with %d edits, %s", r, aname, edits,
					 w ? "signed as re-encoded" : "signed as sent");
			run(&t, &der, &keys[pr->key], label);
		}
	}
	report(&t);
	sc_free(&attrs);
	sc_free(&uns);
	sc_free(&der);
}

/* random edits anywhere in valid SignedData (not signed again) */
static void
class_edited_signed_data(int rounds)
{
	Tally		t = {"edited SignedData, not signed again", 0, 0, 0, 0, 0};
	ScBuf		attrs = {0},
				der = {0};
	char		label[128];

	for (int r = 0; r < rounds; r++)
	{
		const Profile *pr = &profiles[r % 4];
		ScSpec		s;

		attrs.len = der.len = 0;
		std_attrs(&attrs, digests[pr->digest].md(), r % 2);
		spec_for(&s, pr);
		s.attrs = attrs.p;
		s.attrs_len = attrs.len;
		if (!sc_build(&der, &s, &keys[pr->key], SC_SIGN_AS_SENT, NULL, 0, NULL))
			continue;
		for (int e = 1 + (int) rnd(2); e > 0; e--)
			edit(&der);
		snprintf(label, sizeof(label), "round %d", r);
		run(&t, &der, &keys[pr->key], label);
	}
	report(&t);
	sc_free(&attrs);
	sc_free(&der);
}

/*
 * Keys made and freed one after another (a new key may get a freed one's
 * address; the prepared contexts hold their keys, so a context is never
 * used for another key), and more keys than there are prepared contexts.
 */
static void
class_fresh_keys(void)
{
	Tally		t = {"fresh keys (more than the prepared contexts, freed and made again)", 0, 0, 0, 0, 0};
	ScBuf		attrs = {0},
				der = {0};
	ScKey		prev = {0};
	int			own_ok = 0,
				own = 0;

	for (int r = 0; r < 40; r++)
	{
		ScKey		k;
		ScSpec		s = {0};
		ScResult	res;

		sc_key_make(&k, "fresh", r % 4 == 3 ? SC_KEY_EC_P384 : SC_KEY_EC_P256);
		attrs.len = der.len = 0;
		std_attrs(&attrs, EVP_sha256(), r % 2);
		s.digest_oid = digests[0].oid;
		s.sign_md = EVP_sha256();
		set_sigalg(&s, &sigalgs[12]);
		s.attrs = attrs.p;
		s.attrs_len = attrs.len;
		if (sc_build(&der, &s, &k, SC_SIGN_AS_SENT, NULL, 0, NULL))
		{
			res = run(&t, &der, &k, "own key");
			own++;
			own_ok += res.fast && res.reference;
			if (prev.pkey != NULL)
				run(&t, &der, &prev, "the previous key");	/* must fail in both */
		}
		sc_key_free(&prev);
		prev = k;
	}
	sc_key_free(&prev);
	report(&t);
	ok(own > 0 && own_ok == own, "fresh keys: every own-key signature verified by the fast path");
	sc_free(&attrs);
	sc_free(&der);
}

int
main(void)
{
	const char *seed = getenv("SIGNER_SEED");

	if (seed != NULL && *seed != '\0')
		rng = strtoull(seed, NULL, 0) | 1;
	printf("# random edits from seed 0x%llx\n", rng);
	make_pss_params();
	sc_key_make(&keys[K_RSA_A], "RSA-2048 A", SC_KEY_RSA);
	sc_key_make(&keys[K_RSA_B], "RSA-2048 B", SC_KEY_RSA);
	sc_key_make(&keys[K_PSS], "RSA-PSS-2048", SC_KEY_RSA_PSS);
	sc_key_make(&keys[K_EC_A], "P-256 A", SC_KEY_EC_P256);
	sc_key_make(&keys[K_EC_B], "P-256 B", SC_KEY_EC_P256);
	sc_key_make(&keys[K_EC384], "P-384", SC_KEY_EC_P384);
	sc_key_make(&keys[K_ED], "Ed25519", SC_KEY_ED25519);

	class_handled();
	class_algorithms();
	class_attributes();
	class_edited_attributes(3000);
	class_edited_signed_data(1500);
	class_fresh_keys();

	printf("# all classes: %d inputs, %d disagreements\n", total_inputs, total_disagree);
	ok(total_disagree == 0, "the fast path never accepts what OpenSSL rejects, and the answers are OpenSSL's");
	for (int k = 0; k < N_KEYS; k++)
		sc_key_free(&keys[k]);
	sc_free(&pss_params);
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}
