/*
 * dropdb.h
 *	  The utility hook: DROP DATABASE of a worker's database (the worker is
 *	  asked to stop first, so that the drop is not refused because the worker
 *	  is connected), and the statements the launcher must hear about
 *	  (CREATE/DROP EXTENSION, CREATE DATABASE).
 */
#ifndef MOBISIGN_DROPDB_H
#define MOBISIGN_DROPDB_H

/* Called from _PG_init when preloaded: installs the ProcessUtility hook. */
extern void ms_dropdb_init(void);

#endif
