/*
 * refresher.h
 *	  A second background worker that keeps revocation data fresh: it calls
 *	  mobisign._refresh_due_crls() every mobisign.crl_refresh_interval, so
 *	  that CRL and OCSP fetches (network I/O of up to a few seconds) never
 *	  stall the SMPP worker's event loop.
 */
#ifndef MOBISIGN_REFRESHER_H
#define MOBISIGN_REFRESHER_H

#include "postgres.h"

/* Called from _PG_init: the GUC, and registration when preloaded. */
extern void ms_refresher_init(void);

extern PGDLLEXPORT void ms_refresher_main(Datum arg);

#endif
