/*
 * gen_signer_seeds.c
 *	  Seeds of fuzz_signer_verify (its input format there): every signed
 *	  attribute set of test/signer/signer_menu.c, under an RSA and an EC
 *	  profile, signed as sent and as re-encoded.  gen_signer_seeds DIR.
 */
#include <stdio.h>
#include <stdlib.h>

#include "signer_menu.h"

int
main(int argc, char **argv)
{
	/* key, digest, signature algorithm (indexes of fuzz_signer_verify and signer_menu.c) */
	static const unsigned char profiles[][3] = {{0, 0, 3}, {1, 0, 12}, {0, 1, 0}, {2, 3, 13}};
	int			n = 0;

	if (argc != 2)
	{
		fprintf(stderr, "usage: gen_signer_seeds DIR\n");
		return 2;
	}
	sc_menu_init();
	for (size_t p = 0; p < sizeof(profiles) / sizeof(profiles[0]); p++)
		for (int i = 0;; i++)
		{
			ScBuf		attrs = {0},
						uns = {0};
			ScLen		form;
			const char *name;
			bool		more = sc_attr_variant(i, sc_digests[profiles[p][1]].md(), &attrs, &form, &uns, &name);

			if (more && attrs.len <= 4000)
				for (int what = 0; what <= 1; what++)
				{
					char		path[4096];
					FILE	   *f;
					unsigned char hdr[4] = {profiles[p][0], profiles[p][1], profiles[p][2],
					(unsigned char) ((form << 1) | (what << 3) | (uns.len ? 0x40 : 0))};

					snprintf(path, sizeof(path), "%s/seed-%zu-%02d-%d", argv[1], p, i, what);
					if ((f = fopen(path, "wb")) == NULL ||
						fwrite(hdr, 1, 4, f) != 4 ||
						fwrite(attrs.p, 1, attrs.len, f) != attrs.len || fclose(f) != 0)
					{
						perror(path);
						return 1;
					}
					n++;
				}
			sc_free(&attrs);
			sc_free(&uns);
			if (!more)
				break;
		}
	sc_menu_free();
	printf("gen_signer_seeds: %d seeds\n", n);
	return 0;
}
