/*
 * launcher.h
 *	  The "mobisign launcher": one static background worker, connected to no
 *	  database, that keeps one mobisign worker running in every database
 *	  where the extension is installed (and mobisign.database selects).
 *
 * Entry points:
 *	  bgworker.c (from _PG_init)	ms_launcher_init, ms_launcher_register
 *	  the postmaster				ms_launcher_main
 *	  the utility hook				ms_launcher_extension_changed,
 *	  (extension/dropdb.c)			ms_launcher_databases_changed,
 *									ms_launcher_hold_for_drop
 *
 * What the hooks report takes effect when the current transaction ends:
 * a CREATE EXTENSION that rolls back starts nothing.
 */
#ifndef MOBISIGN_LAUNCHER_H
#define MOBISIGN_LAUNCHER_H

#include "postgres.h"

/* GUCs: mobisign.database (the selection), mobisign.max_databases */
extern char *ms_launcher_databases;
extern int	ms_launcher_max_databases;

/* Defines the launcher's GUCs (mobisign.max_databases only when preloaded). */
extern void ms_launcher_init(bool preloaded);

/* Registers the launcher (while preloading). */
extern void ms_launcher_register(void);

extern PGDLLEXPORT void ms_launcher_main(Datum main_arg);

/*
 * At commit: the worker of the current database looks again whether the
 * extension is there (it leaves when it is not), and the launcher starts
 * one where there is none.
 */
extern void ms_launcher_extension_changed(void);

/*
 * At commit: the launcher looks at pg_database at once (CREATE DATABASE,
 * ALTER DATABASE: a template, connections allowed, a new name).
 */
extern void ms_launcher_databases_changed(void);

/*
 * DROP DATABASE of dboid by its owner is about to run: no worker is started
 * there until this transaction ends (then, if it failed, one is started at
 * once).  Returns the pid of the database's running worker, or 0.
 */
extern int	ms_launcher_hold_for_drop(Oid dboid);

#endif							/* MOBISIGN_LAUNCHER_H */
