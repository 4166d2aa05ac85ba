/*
 * restore.c
 *	  mobisign.restore_counter_margin and mobisign._restore_counter_margin();
 *	  mobisign.counter_low_margin and mobisign._counter_low_margin().
 *	  mobisign._own_write() and mobisign._is_own_write(), the flag that tells
 *	  the API's own writes of sim_key and transaction from restored rows.
 *
 * Invariant: a restored SIM key set never sends a counter it may have sent
 * before.  A backup is older than the SIMs it describes; every restored key
 * set's counter therefore jumps by this margin (sql/parts/80_backup.sql),
 * which must exceed the number of requests any one SIM can have been sent
 * since the backup was taken.  The SQL reads the value through a C function
 * so that calling it loads the library (and defines the setting) even in a
 * session that has not used mobisign before.
 *
 * The same invariant after a failover to a standby that lagged: its counters
 * may be behind the SIMs'.  A SIM then refuses the next request with an
 * authentic proof of receipt "counter low", and that SIM's counter jumps past
 * the refused one by mobisign.counter_low_margin (sql/parts/44_sim_answers.sql):
 * bounded, once per refusal, and never on an unauthenticated answer.
 *
 * The own-write flag is the transaction-local setting OWN_WRITE_GUC, set
 * around the API's INSERTs (sql/parts/80_backup.sql); in C because the
 * trigger reading it runs on every INSERT of a transaction row.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "restore.h"

static int	restore_counter_margin = 1000000000;
static int	counter_low_margin = 1000;

#define OWN_WRITE_GUC "mobisign_state.own_write"

void
ms_restore_init(void)
{
	DefineCustomIntVariable("mobisign.restore_counter_margin",
							"How far every SIM's OTA counter jumps when a backup of mobisign is restored.",
							"Must exceed the number of requests one SIM can have been sent since the backup was taken.",
							&restore_counter_margin,
							1000000000, 1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mobisign.counter_low_margin",
							"How far a SIM's OTA counter jumps past a counter the SIM refused as too low.",
							"Must exceed the number of requests one SIM can have been sent in the commits a failover lost.",
							&counter_low_margin,
							1000, 1, INT_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}

/* mobisign._restore_counter_margin() RETURNS bigint */
PG_FUNCTION_INFO_V1(ms_restore_counter_margin);
Datum
ms_restore_counter_margin(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) restore_counter_margin);
}

/* mobisign._counter_low_margin() RETURNS bigint */
PG_FUNCTION_INFO_V1(ms_counter_low_margin);
Datum
ms_counter_low_margin(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) counter_low_margin);
}

/* mobisign._own_write(on_off boolean) RETURNS void: until the transaction ends */
PG_FUNCTION_INFO_V1(ms_own_write);
Datum
ms_own_write(PG_FUNCTION_ARGS)
{
	/* what set_config(OWN_WRITE_GUC, ..., true) does */
	(void) set_config_option(OWN_WRITE_GUC, PG_GETARG_BOOL(0) ? "on" : "off",
							 superuser() ? PGC_SUSET : PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	PG_RETURN_VOID();
}

/* mobisign._is_own_write() RETURNS boolean */
PG_FUNCTION_INFO_V1(ms_is_own_write);
Datum
ms_is_own_write(PG_FUNCTION_ARGS)
{
	const char *v = GetConfigOption(OWN_WRITE_GUC, true, false);

	PG_RETURN_BOOL(v != NULL && strcmp(v, "on") == 0);
}
