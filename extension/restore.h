/*
 * restore.h
 *	  Restores of a logical backup: how far the SIMs' OTA counters jump.
 *
 * The SQL side (sql/parts/80_backup.sql) marks what pg_dump keeps and
 * makes restored rows safe; C only owns the GUC
 * mobisign.restore_counter_margin and reads it for SQL.
 */
#ifndef MOBISIGN_RESTORE_H
#define MOBISIGN_RESTORE_H

/* Called from _PG_init: defines mobisign.restore_counter_margin. */
extern void ms_restore_init(void);

#endif
