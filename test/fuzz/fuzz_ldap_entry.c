/*
 * libFuzzer harness: LDAP entries as ldap_dir.c reads them
 * (extension/input/ldap_input.c): which attributes and values are taken
 * for a user's mobile number, certificates and a CA's CRLs, and the
 * mobile number's normalisation.  The entry is synthetic: the berval
 * arrays libldap would hand over.
 * Input: byte 0 = room for values (mod 17), then attributes until the
 * input ends: one length byte and the attribute description, one count
 * byte, and per value two length bytes (big endian) and the value (all
 * clipped to what remains).
 * Checks: a matching attribute names the wanted one (before options, any
 * case); taken values are non-empty, within the size limit, in order, at
 * most room of them; a mobile number kept is '+'? and digits only, taken
 * in order from the value.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ldap_input.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ATTRS 16
#define MAX_VALS 32

/* the limits ldap_dir.c uses: mobile number, certificate, CRL */
static const struct
{
	const char *wanted;
	size_t		max_len;
}			wanted[] = {
	{"mobile", MSI_LDAP_MSISDN_MAX_LEN},
	{"userCertificate;binary", MSI_MAX_CERT_LEN},
	{"certificateRevocationList;binary", MSI_MAX_CRL_LEN},
	{"msisdn", 8},
};

static void
check_msisdn(const char *v, size_t len)
{
	char		out[MSI_LDAP_MSISDN_MAX_LEN + 1];
	char		small[4];
	size_t		j = 0;
	msi_rc		rc;

	if (len > MSI_LDAP_MSISDN_MAX_LEN)
		len = MSI_LDAP_MSISDN_MAX_LEN;
	rc = msi_msisdn_normalise(v, len, out, len + 1);
	FUZZ_CHECK(rc == MSI_OK || rc == MSI_E_VALUE);
	if (rc != MSI_OK)
	{
		FUZZ_CHECK(out[0] == '\0');
		return;
	}
	FUZZ_CHECK(strlen(out) <= len);
	for (size_t i = 0; out[i]; i++)
	{
		FUZZ_CHECK(isdigit((unsigned char) out[i]) || (i == 0 && out[i] == '+'));
		/* a subsequence of the value */
		while (j < len && v[j] != out[i])
			j++;
		FUZZ_CHECK(j < len);
		j++;
	}
	FUZZ_CHECK(strcmp(out, "+") != 0);
	/* a buffer too small is said so, never overrun */
	rc = msi_msisdn_normalise(v, len, small, sizeof(small));
	FUZZ_CHECK(rc == (strlen(out) < sizeof(small) ? MSI_OK : MSI_E_TOO_LARGE));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		names[MAX_ATTRS][256];
	struct berval bv[MAX_ATTRS][MAX_VALS];
	struct berval *vals[MAX_ATTRS][MAX_VALS + 1];
	size_t		nattrs = 0;
	size_t		pos = 1;
	size_t		room;

	if (size < 1)
		return 0;
	room = data[0] % 17;
	while (pos < size && nattrs < MAX_ATTRS)
	{
		size_t		nl = data[pos++];
		size_t		nv;

		if (nl > size - pos)
			nl = size - pos;
		memcpy(names[nattrs], data + pos, nl);
		names[nattrs][nl] = '\0';
		pos += nl;
		nv = pos < size ? data[pos++] % (MAX_VALS + 1) : 0;
		for (size_t i = 0; i < nv; i++)
		{
			size_t		vl = 0;

			if (pos + 2 <= size)
			{
				vl = ((size_t) data[pos] << 8) | data[pos + 1];
				pos += 2;
			}
			else
				pos = size;
			if (vl > size - pos)
				vl = size - pos;
			bv[nattrs][i].bv_len = vl;
			bv[nattrs][i].bv_val = (char *) data + pos;
			vals[nattrs][i] = &bv[nattrs][i];
			pos += vl;
		}
		vals[nattrs][nv] = NULL;
		nattrs++;
	}

	for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]); w++)
	{
		size_t		taken = 0;
		size_t		keep[MAX_VALS];
		size_t		lw = strcspn(wanted[w].wanted, ";");

		for (size_t a = 0; a < nattrs; a++)
		{
			size_t		n;

			if (!msi_ldap_attr_matches(names[a], wanted[w].wanted))
				continue;
			FUZZ_CHECK(strcspn(names[a], ";") == lw &&
					   strncasecmp(names[a], wanted[w].wanted, lw) == 0);
			if (taken >= room)
				continue;
			n = msi_ldap_pick_values(vals[a], wanted[w].max_len, room - taken, keep);
			FUZZ_CHECK(n <= room - taken);
			for (size_t i = 0; i < n; i++)
			{
				const struct berval *v = vals[a][keep[i]];

				FUZZ_CHECK(i == 0 || keep[i] > keep[i - 1]);
				FUZZ_CHECK(v->bv_len >= 1 && v->bv_len <= wanted[w].max_len);
				if (w == 0)
					check_msisdn(v->bv_val, v->bv_len);
			}
			taken += n;
		}
		FUZZ_CHECK(taken <= room);
	}
	/* the whole input as one mobile number value, too */
	check_msisdn((const char *) data, size);
	FUZZ_CHECK(!msi_ldap_attr_matches("", "") && !msi_ldap_attr_matches(";binary", ";binary"));
	return 0;
}
