/*
 * signer_menu.c
 *	  The inputs of the differential test of extension/signer_verify.c and
 *	  of its fuzzer's seeds: digests, signature algorithms, signed
 *	  attribute sets (see signer_menu.h).
 */
#include <stdlib.h>
#include <string.h>

#include "signer_menu.h"

const ScDigest sc_digests[] = {
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
const int	sc_n_digests = (int) (sizeof(sc_digests) / sizeof(sc_digests[0]));



const ScSigAlg sc_sigalgs[] = {
	{"rsaEncryption NULL", "1.2.840.113549.1.1.1", SC_P_NULL, true},
	{"rsaEncryption absent", "1.2.840.113549.1.1.1", SC_P_ABSENT, true},
	{"rsaEncryption INTEGER params", "1.2.840.113549.1.1.1", SC_P_GARBAGE, true},
	{"sha256WithRSAEncryption", "1.2.840.113549.1.1.11", SC_P_NULL, true},
	{"sha1WithRSAEncryption", "1.2.840.113549.1.1.5", SC_P_NULL, true},
	{"sha512WithRSAEncryption", "1.2.840.113549.1.1.13", SC_P_NULL, true},
	{"md5WithRSAEncryption", "1.2.840.113549.1.1.4", SC_P_NULL, true},
	{"RSA-SHA3-256", "2.16.840.1.101.3.4.3.14", SC_P_ABSENT, true},
	{"sha1WithRSA (OIW)", "1.3.14.3.2.29", SC_P_NULL, false},
	{"rsassaPss sha256", "1.2.840.113549.1.1.10", SC_P_PSS_SHA256, false},
	{"rsassaPss absent", "1.2.840.113549.1.1.10", SC_P_ABSENT, false},
	{"rsaesOaep", "1.2.840.113549.1.1.7", SC_P_ABSENT, false},
	{"ecdsa-with-SHA256", "1.2.840.10045.4.3.2", SC_P_ABSENT, false},
	{"ecdsa-with-SHA384", "1.2.840.10045.4.3.3", SC_P_ABSENT, false},
	{"id-ecPublicKey", "1.2.840.10045.2.1", SC_P_ABSENT, false},
	{"Ed25519", "1.3.101.112", SC_P_ABSENT, false},
	{"dsa-with-sha256", "2.16.840.1.101.3.4.3.2", SC_P_ABSENT, false},
	{"unknown OID", "1.2.3.4.5.7", SC_P_NULL, false},
};
const int	sc_n_sigalgs = (int) (sizeof(sc_sigalgs) / sizeof(sc_sigalgs[0]));

static ScBuf pss_params;

void
sc_menu_init(void)
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

void
sc_set_sigalg(ScSpec *s, const ScSigAlg *a)
{
	s->sig_oid = a->oid;
	switch (a->params)
	{
		case SC_P_ABSENT:
			s->sig_params = NULL;
			s->sig_plen = 0;
			break;
		case SC_P_NULL:
			s->sig_params = (const unsigned char *) "\x05\x00";
			s->sig_plen = 2;
			break;
		case SC_P_PSS_SHA256:
			s->sig_params = pss_params.p;
			s->sig_plen = pss_params.len;
			break;
		case SC_P_GARBAGE:
			s->sig_params = (const unsigned char *) "\x02\x01\x05";
			s->sig_plen = 3;
			break;
	}
}

/* the usual attributes: contentType id-data, messageDigest, signingTime (if st) */
void
sc_std_attrs(ScBuf *out, const EVP_MD *md, bool st)
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
bool
sc_attr_variant(int i, const EVP_MD *md, ScBuf *out, ScLen *form, ScBuf *uns, const char **name)
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

void
sc_menu_free(void)
{
	sc_free(&pss_params);
}
