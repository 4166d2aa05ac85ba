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
 *	  Every interval argument of the API is taken as one duration,
 *	  ms_duration_seconds() (mobisign._duration() in SQL), both where it is
 *	  checked against these bounds and where it is added to now().
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
