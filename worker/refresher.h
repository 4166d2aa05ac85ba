/*
 * refresher.h
 *	  Keeping revocation data fresh without stalling the SMPP worker: every
 *	  mobisign.crl_refresh_interval the SMPP worker launches a one-shot
 *	  background worker, "mobisign refresher", that calls
 *	  mobisign._refresh_due_crls() (CRL and OCSP fetches, network I/O of up
 *	  to a few seconds) and exits.  Being launched by the SMPP worker, it
 *	  runs only on a primary, and never after the SMPP worker has stopped
 *	  (so DROP DATABASE is not blocked by an idle refresher).
 */
#ifndef MOBISIGN_REFRESHER_H
#define MOBISIGN_REFRESHER_H

#include "postgres.h"

/* Called from _PG_init: the GUC. */
extern void ms_refresher_init(void);

/* Called from the SMPP worker's housekeeping: launch a refresh when due. */
extern void ms_refresher_launch_if_due(void);

extern PGDLLEXPORT void ms_refresher_main(Datum arg);

#endif
