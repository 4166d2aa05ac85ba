/*-------------------------------------------------------------------------
 *
 * policy.h
 *	  Bounds that only a superuser may move (PGC_SUSET GUCs), read by the
 *	  SQL API through mobisign._max_timeout() and mobisign._min_retention():
 *
 *	  mobisign.max_timeout    the longest timeout of mobisign_authenticate /
 *	                          mobisign_sign (default 180 s): one application
 *	                          cannot hold a user for longer than that;
 *	  mobisign.min_retention  the shortest older_than of mobisign_purge
 *	                          (default 30 days): the purge role cannot erase
 *	                          recent audit rows or transactions.
 *
 *	  The interval arguments applications and the purge role give (a
 *	  request's and a wait's timeout, mobisign_purge's older_than) are each
 *	  taken as one duration, ms_duration_seconds() (mobisign._duration() in
 *	  SQL), both where checked against these bounds and where added to
 *	  now().  The administrators' intervals (crl_grace, the SMSC's and the
 *	  directories' timeouts) keep PostgreSQL's comparison: they bound
 *	  nothing an administrator could not set directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_POLICY_H
#define MOBISIGN_POLICY_H

#include "datatype/timestamp.h"

/* a duration's bound: about 3,170 years, within a timestamp's range from now */
#define MS_DURATION_MAX_S	1e11

extern void ms_policy_init(void);
extern double ms_duration_seconds(const Interval *iv);

#endif							/* MOBISIGN_POLICY_H */
