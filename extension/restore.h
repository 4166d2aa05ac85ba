/*
 * restore.h
 *	  Restores of a logical backup, and failovers that lost commits: how far
 *	  the SIMs' OTA counters jump.
 *
 * The SQL side (sql/parts/80_backup.sql) marks what pg_dump keeps and
 * makes restored rows safe, sql/parts/44_sim_answers.sql moves a counter a
 * SIM refused as too low; C only owns the GUCs mobisign.restore_counter_margin
 * and mobisign.counter_low_margin and reads them for SQL.
 */
#ifndef MOBISIGN_RESTORE_H
#define MOBISIGN_RESTORE_H

/* Called from _PG_init: defines both settings. */
extern void ms_restore_init(void);

#endif
