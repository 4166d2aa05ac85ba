/*
 * libFuzzer harness: extension/signer_verify.c's fast path for a
 * SignerInfo's signature over its signed attributes, differentially
 * against OpenSSL (test/signer/signer_cms.h): any bytes as the signed
 * attributes, wrapped in a SignedData, signed for real.
 * Input: byte 0 the key (RSA-2048 A, P-256, P-384, RSA-PSS, Ed25519,
 * RSA-2048 B), byte 1 the digest and byte 2 the signature algorithm
 * (test/signer/signer_menu.c), byte 3 flags (bit 0 PSS padding, bits 1-2
 * the [0]'s length form, bits 3-4 what is signed: as sent, as OpenSSL
 * re-encodes it, sorted; bit 5 signed by another key; bit 6 an unsigned
 * attribute), the rest the content of the [0] signedAttrs.
 * Checks: the fast path accepts only what CMS_SignerInfo_verify() accepts,
 * and the verifier's answer (fast path or CMS_SignerInfo_verify(), then
 * the content's digest) is CMS_verify()'s.  Seeds: gen_signer_seeds.c.
 */
#include <stdint.h>
#include <stdlib.h>

#include "signer_cms.h"
#include "signer_menu.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_KEYS 6
static ScKey keys[N_KEYS];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	sc_menu_init();
	sc_key_make(&keys[0], "RSA-2048 A", SC_KEY_RSA);
	sc_key_make(&keys[1], "P-256", SC_KEY_EC_P256);
	sc_key_make(&keys[2], "P-384", SC_KEY_EC_P384);
	sc_key_make(&keys[3], "RSA-PSS-2048", SC_KEY_RSA_PSS);
	sc_key_make(&keys[4], "Ed25519", SC_KEY_ED25519);
	sc_key_make(&keys[5], "RSA-2048 B", SC_KEY_RSA);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			k;
	const ScDigest *d;
	ScSpec		s = {0};
	ScBuf		der = {0},
				uns = {0};
	const ScKey *signer;
	static const ScSignWhat whats[3] = {SC_SIGN_AS_SENT, SC_SIGN_REENCODED, SC_SIGN_SORTED};

	if (size < 4)
		return 0;
	k = data[0] % N_KEYS;
	d = &sc_digests[data[1] % sc_n_digests];
	s.digest_oid = d->oid;
	s.sign_md = k == 4 ? NULL : d->md();
	sc_set_sigalg(&s, &sc_sigalgs[data[2] % sc_n_sigalgs]);
	s.pss = (data[3] & 1) && keys[k].rsa;
	s.attrs_form = (ScLen) (((data[3] >> 1) & 3) % 3);
	s.attrs = data + 4;
	s.attrs_len = size - 4;
	signer = &keys[k];
	if (data[3] & 0x20)
	{
		/* the SignerInfo names keys[k], another key of its kind signs */
		s.named = &keys[k];
		signer = &keys[k == 0 ? 5 : k == 5 ? 0 : k == 1 ? 2 : k == 2 ? 1 : 0];
	}
	if (data[3] & 0x40)
	{
		sc_attr(&uns, "1.2.3.4.5.99", "\x0c\x01x", 3, SC_LEN_DER);
		s.unsigned_attrs = uns.p;
		s.unsigned_len = uns.len;
	}
	if (sc_build(&der, &s, signer, whats[((data[3] >> 3) & 3) % 3], NULL, 0, NULL))
	{
		ScResult	r = sc_check(der.p, der.len, &keys[k]);

		FUZZ_CHECK(r.agree);
	}
	sc_free(&der);
	sc_free(&uns);
	return 0;
}
