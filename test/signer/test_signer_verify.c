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
#include "signer_menu.h"
#include "tap.h"


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
		for (int d = 0; d < sc_n_digests; d++)
			for (int a = 0; a < sc_n_sigalgs; a++)
				for (int pss = 0; pss <= (keys[k].rsa ? 1 : 0); pss++)
				{
					const EVP_MD *md = sc_digests[d].md();
					ScSpec		s = {0};

					attrs.len = der.len = 0;
					sc_std_attrs(&attrs, md, (a + d) % 2 == 0);
					s.digest_oid = sc_digests[d].oid;
					s.sign_md = sign_md_for(k, md);
					s.pss = pss;
					sc_set_sigalg(&s, &sc_sigalgs[a]);
					s.attrs = attrs.p;
					s.attrs_len = attrs.len;
					if (!sc_build(&der, &s, &keys[k], SC_SIGN_AS_SENT, NULL, 0, NULL))
						continue;	/* the key cannot make this signature */
					snprintf(label, sizeof(label), "%s, %s, %s, %s", keys[k].name, sc_digests[d].name,
							 sc_sigalgs[a].name, pss ? "PSS padding" : "default padding");
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
			for (int d = 0; d < sc_n_digests; d++)
				for (int a = 0; a < sc_n_sigalgs; a++)
					for (int st = 0; st <= 1; st++)
					{
						int			k = ks[ki];
						const EVP_MD *md = sc_digests[d].md();
						ScSpec		s = {0};
						ScResult	r;

						if (!sc_digests[d].common ||
							(keys[k].rsa ? !sc_sigalgs[a].rsa_v15 : strncmp(sc_sigalgs[a].name, "ecdsa", 5) != 0))
							continue;
						attrs.len = der.len = 0;
						sc_std_attrs(&attrs, md, st);
						s.digest_oid = sc_digests[d].oid;
						s.sign_md = md;
						sc_set_sigalg(&s, &sc_sigalgs[a]);
						s.attrs = attrs.p;
						s.attrs_len = attrs.len;
						if (!sc_build(&der, &s, &keys[k], SC_SIGN_AS_SENT, NULL, 0, NULL))
							continue;
						snprintf(label, sizeof(label), "%s, %s, %s, %s", keys[k].name, sc_digests[d].name,
								 sc_sigalgs[a].name, st ? "signingTime" : "no signingTime");
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
	s->digest_oid = sc_digests[p->digest].oid;
	s->sign_md = sign_md_for(p->key, sc_digests[p->digest].md());
	s->pss = p->pss;
	sc_set_sigalg(s, &sc_sigalgs[p->sigalg]);
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
			more = sc_attr_variant(i, sc_digests[pr->digest].md(), &attrs, &form, &uns, &aname);
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
				snprintf(label, sizeof(label), "%s, %s, %s, %s: %s, %s", key->name, sc_digests[pr->digest].name,
						 sc_sigalgs[pr->sigalg].name, pr->pss ? "PSS" : "-", aname, wn[w]);
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
		sc_attr_variant(base, sc_digests[pr->digest].md(), &attrs, &form, &uns, &aname);
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
		sc_std_attrs(&attrs, sc_digests[pr->digest].md(), r % 2);
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
		sc_std_attrs(&attrs, EVP_sha256(), r % 2);
		s.digest_oid = sc_digests[0].oid;
		s.sign_md = EVP_sha256();
		sc_set_sigalg(&s, &sc_sigalgs[12]);
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
	sc_menu_init();
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
	sc_menu_free();
	return tap_done();
}
