/*-------------------------------------------------------------------------
 *
 * ocsp.c
 *	  OCSP revocation checking (see ocsp.h).  Until responders are wired
 *	  in, every answer is "unavailable", which fails closed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ocsp.h"

MsOcspOutcome
ms_ocsp_check_chain(MsPki *pki, STACK_OF(X509) *chain, time_t at,
					StringInfo evidence, char **reason)
{
	appendStringInfoString(evidence, "[]");
	*reason = pstrdup("OCSP checking is not available");
	return MS_OCSP_UNAVAILABLE;
}
