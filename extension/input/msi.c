/*-------------------------------------------------------------------------
 *
 * msi.c
 *	  mobisign outside input: result code names (see msi.h).
 *
 *-------------------------------------------------------------------------
 */
#include "msi.h"

#include <stddef.h>

const char *
msi_rc_name(msi_rc rc)
{
	static const struct
	{
		msi_rc		rc;
		const char *name;
	}			names[] = {
		{MSI_OK, "MSI_OK"},
		{MSI_E_ARG, "MSI_E_ARG"},
		{MSI_E_NOMEM, "MSI_E_NOMEM"},
		{MSI_E_EMPTY, "MSI_E_EMPTY"},
		{MSI_E_TOO_LARGE, "MSI_E_TOO_LARGE"},
		{MSI_E_NOT_PEM, "MSI_E_NOT_PEM"},
		{MSI_E_PEM_COUNT, "MSI_E_PEM_COUNT"},
		{MSI_E_PEM_DECODE, "MSI_E_PEM_DECODE"},
		{MSI_E_DER_DECODE, "MSI_E_DER_DECODE"},
		{MSI_E_TRAILING, "MSI_E_TRAILING"},
		{MSI_E_TYPE, "MSI_E_TYPE"},
		{MSI_E_OCSP_STATUS, "MSI_E_OCSP_STATUS"},
		{MSI_E_OCSP_NOT_BASIC, "MSI_E_OCSP_NOT_BASIC"},
		{MSI_E_OCSP_NOT_COVERED, "MSI_E_OCSP_NOT_COVERED"},
		{MSI_E_OCSP_NONCE, "MSI_E_OCSP_NONCE"},
		{MSI_E_OCSP_STALE, "MSI_E_OCSP_STALE"},
		{MSI_E_OCSP_SIGNATURE, "MSI_E_OCSP_SIGNATURE"},
		{MSI_E_OCSP_NOT_FRESH, "MSI_E_OCSP_NOT_FRESH"},
		{MSI_E_OCSP_LATER, "MSI_E_OCSP_LATER"},
		{MSI_E_URL_SCHEME, "MSI_E_URL_SCHEME"},
		{MSI_E_URL_HTTPS, "MSI_E_URL_HTTPS"},
		{MSI_E_URL, "MSI_E_URL"},
		{MSI_E_HTTP, "MSI_E_HTTP"},
		{MSI_E_VALUE, "MSI_E_VALUE"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rc == rc)
			return names[i].name;
	return "MSI_E_UNKNOWN";
}

int
msi_hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
