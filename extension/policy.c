/*-------------------------------------------------------------------------
 *
 * policy.c
 *	  The superuser-only bounds of the SQL API (see policy.h).
 *
 * Both are PGC_SUSET: applications and administrators can neither SET
 * them nor ALTER ROLE them; a superuser can, per session, role or in
 * postgresql.conf.  SQL reads them only through the getters below, which
 * also load the library in a session where it is not preloaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "policy.h"

/* MSSPs keep a user's request open for 80 to 180 seconds */
#define MS_MAX_TIMEOUT_DEFAULT	180
#define MS_MIN_RETENTION_DEFAULT (30 * SECS_PER_DAY)

static int	ms_max_timeout = MS_MAX_TIMEOUT_DEFAULT;
static int	ms_min_retention = MS_MIN_RETENTION_DEFAULT;

void
ms_policy_init(void)
{
	DefineCustomIntVariable("mobisign.max_timeout",
							"Longest timeout of mobisign_authenticate() and mobisign_sign().",
							"A request holds its user (one open request per user) until it ends; longer timeouts are refused with MS101.",
							&ms_max_timeout,
							MS_MAX_TIMEOUT_DEFAULT,
							1, SECS_PER_DAY,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mobisign.min_retention",
							"Shortest retention mobisign_purge() accepts.",
							"Finished transactions and audit rows younger than this cannot be purged.",
							&ms_min_retention,
							MS_MIN_RETENTION_DEFAULT,
							0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

static Datum
seconds_interval(int secs)
{
	Interval   *iv = palloc0(sizeof(Interval));

	/* whole days as days, so that 30 days reads "30 days", not "720:00:00" */
	iv->day = secs / SECS_PER_DAY;
	iv->time = (int64) (secs % SECS_PER_DAY) * USECS_PER_SEC;
	return IntervalPGetDatum(iv);
}

/*
 * An interval argument as the duration it stands for, in seconds: a month
 * counted 30 days and a year 365.25 days, as extract(epoch) counts them,
 * clamped to +/- MS_DURATION_MAX_S.  Every interval the API is given is
 * checked and applied as this one duration: an interval's own comparison
 * (a month is 30 days) and its addition to a timestamp (calendar months
 * and years) disagree, so '1000 years -360000 days 10 s' compares as 10 s
 * and adds 14 years.
 */
double
ms_duration_seconds(const Interval *iv)
{
	double		s;

	s = (double) iv->time / USECS_PER_SEC + (double) iv->day * SECS_PER_DAY +
		(double) (iv->month / MONTHS_PER_YEAR) * DAYS_PER_YEAR * SECS_PER_DAY +
		(double) (iv->month % MONTHS_PER_YEAR) * DAYS_PER_MONTH * SECS_PER_DAY;
	if (s > MS_DURATION_MAX_S)
		s = MS_DURATION_MAX_S;
	if (s < -MS_DURATION_MAX_S)
		s = -MS_DURATION_MAX_S;
	return s;
}

/* mobisign._duration(interval) RETURNS interval: that duration, as time only */
PG_FUNCTION_INFO_V1(ms_duration_sql);
Datum
ms_duration_sql(PG_FUNCTION_ARGS)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = (int64) (ms_duration_seconds(PG_GETARG_INTERVAL_P(0)) * USECS_PER_SEC);
	PG_RETURN_INTERVAL_P(iv);
}

/* mobisign._max_timeout() RETURNS interval */
PG_FUNCTION_INFO_V1(ms_max_timeout_sql);
Datum
ms_max_timeout_sql(PG_FUNCTION_ARGS)
{
	return seconds_interval(ms_max_timeout);
}

/* mobisign._min_retention() RETURNS interval */
PG_FUNCTION_INFO_V1(ms_min_retention_sql);
Datum
ms_min_retention_sql(PG_FUNCTION_ARGS)
{
	return seconds_interval(ms_min_retention);
}
