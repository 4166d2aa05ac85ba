/*-------------------------------------------------------------------------
 *
 * ocsp_input.c
 *	  OCSP response decoding and matching (see ocsp_input.h).
 *
 *-------------------------------------------------------------------------
 */
#include "ocsp_input.h"

#include <limits.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

/* Is a response with these thisUpdate/nextUpdate valid at time at?  */
static int
valid_at(const ASN1_GENERALIZEDTIME *thisupd, const ASN1_GENERALIZEDTIME *nextupd,
		 time_t at, msi_rc *rc)
{
	time_t		late = at + MSI_OCSP_SKEW;
	time_t		early = at - MSI_OCSP_SKEW;

	*rc = MSI_E_OCSP_NOT_FRESH;
	if (!ASN1_TIME_check(thisupd) || (nextupd != NULL && !ASN1_TIME_check(nextupd)))
		return 0;
	if (X509_cmp_time(thisupd, &late) > 0)
	{
		*rc = MSI_E_OCSP_LATER;
		return 0;
	}
	if (nextupd != NULL &&
		(X509_cmp_time(nextupd, &early) < 0 || ASN1_TIME_compare(nextupd, thisupd) < 0))
		return 0;
	*rc = MSI_OK;
	return 1;
}

msi_rc
msi_ocsp_evaluate(const unsigned char *der, size_t len, const msi_ocsp_query *q,
				  msi_ocsp_answer *a)
{
	const unsigned char *p = der;
	msi_rc		rc;

	memset(a, 0, sizeof(*a));
	a->reason = -1;
	ERR_clear_error();
	if (q == NULL || q->id == NULL || q->store == NULL)
		return MSI_E_ARG;
	if (der == NULL || len == 0)
		return MSI_E_EMPTY;
	if (len > LONG_MAX)
		return MSI_E_TOO_LARGE;
	a->response = d2i_OCSP_RESPONSE(NULL, &p, (long) len);
	if (a->response == NULL)
		return MSI_E_DER_DECODE;
	if (p != der + len)
		return MSI_E_TRAILING;
	a->response_status = OCSP_response_status(a->response);
	if (a->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		return MSI_E_OCSP_STATUS;
	a->basic = OCSP_response_get1_basic(a->response);
	if (a->basic == NULL)
		return MSI_E_OCSP_NOT_BASIC;
	if (!OCSP_resp_find_status(a->basic, q->id, &a->cert_status, &a->reason, &a->revoked_at,
							   &a->this_update, &a->next_update) ||
		a->this_update == NULL)
		return MSI_E_OCSP_NOT_COVERED;
	if (q->request != NULL)
	{
		int			n = OCSP_check_nonce(q->request, a->basic);

		if (n == 0)
			return MSI_E_OCSP_NONCE;
		if (n != 1)
		{
			time_t		limit = time(NULL) - MSI_OCSP_NONCELESS_MAX_AGE;

			if (X509_cmp_time(a->this_update, &limit) < 0)
				return MSI_E_OCSP_STALE;
		}
	}
	ERR_clear_error();
	if (OCSP_basic_verify(a->basic, q->certs, q->store, 0) <= 0)
		return MSI_E_OCSP_SIGNATURE;
	if (!valid_at(a->this_update, a->next_update, q->at, &rc))
		return rc;
	if (a->cert_status != V_OCSP_CERTSTATUS_REVOKED)
		a->revoked_at = NULL;
	a->produced_at = OCSP_resp_get0_produced_at(a->basic);
	ERR_clear_error();
	return MSI_OK;
}
