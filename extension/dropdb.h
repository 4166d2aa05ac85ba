/*
 * dropdb.h
 *	  DROP DATABASE of the worker's database: the worker is asked to stop
 *	  first, so that the drop is not refused because the worker is connected.
 */
#ifndef MOBISIGN_DROPDB_H
#define MOBISIGN_DROPDB_H

/* Called from _PG_init when preloaded: installs the ProcessUtility hook. */
extern void ms_dropdb_init(void);

#endif
