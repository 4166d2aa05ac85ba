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
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_POLICY_H
#define MOBISIGN_POLICY_H

extern void ms_policy_init(void);

#endif							/* MOBISIGN_POLICY_H */
