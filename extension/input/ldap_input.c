/*-------------------------------------------------------------------------
 *
 * ldap_input.c
 *	  Attributes, values and mobile numbers of LDAP entries (see
 *	  ldap_input.h).
 *
 *-------------------------------------------------------------------------
 */
#include "ldap_input.h"

#include <string.h>
#include <strings.h>

bool
msi_ldap_attr_matches(const char *returned, const char *wanted)
{
	size_t		lr;
	size_t		lw;

	if (returned == NULL || wanted == NULL)
		return false;
	lr = strcspn(returned, ";");
	lw = strcspn(wanted, ";");
	return lr == lw && lr > 0 && strncasecmp(returned, wanted, lr) == 0;
}

size_t
msi_ldap_pick_values(struct berval *const *vals, size_t max_len, size_t room, size_t *keep)
{
	size_t		n = 0;

	for (size_t i = 0; vals != NULL && vals[i] != NULL && n < room; i++)
	{
		if (vals[i]->bv_len == 0 || vals[i]->bv_len > max_len || vals[i]->bv_val == NULL)
			continue;
		keep[n++] = i;
	}
	return n;
}

msi_rc
msi_msisdn_normalise(const char *v, size_t len, char *out, size_t outsize)
{
	size_t		n = 0;
	bool		digit = false;
	msi_rc		rc = MSI_OK;

	if (out == NULL || outsize == 0 || (v == NULL && len > 0))
		return MSI_E_ARG;
	for (size_t i = 0; rc == MSI_OK && i < len; i++)
	{
		char		ch = v[i];

		if (ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')' || ch == '/')
			continue;
		if (!((ch >= '0' && ch <= '9') || (ch == '+' && n == 0)))
			rc = MSI_E_VALUE;
		else if (n + 1 >= outsize)
			rc = MSI_E_TOO_LARGE;
		else
		{
			out[n++] = ch;
			digit = digit || ch != '+';
		}
	}
	if (rc == MSI_OK && !digit)
		rc = MSI_E_VALUE;
	/* on failure nothing is kept */
	out[rc == MSI_OK ? n : 0] = '\0';
	return rc;
}
