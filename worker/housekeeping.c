/*-------------------------------------------------------------------------
 *
 * housekeeping.c
 *	  The housekeeping rounds (see housekeeping.h).
 *
 * A call runs one batch (its own short transaction, queue.c).  In the SMPP
 * worker the next call comes after at least MS_HK_GAP_MS and three times
 * what that call took, so housekeeping takes at most a quarter of its time
 * and holds back submissions and acknowledgements for one batch at most
 * (make bench, half rate: sealing a second's audit rows in one call took
 * 13-75 ms, the queue cleanup up to 15 ms, in the SMPP worker's turn; those
 * turns made the latency p99).  In the verifier that keeps house the pause
 * is what the call took: it claims answers between two batches.
 *
 * A call is a time slice: its batch adapts to what the last call's
 * statements took (its commit's flush left out: the same for any batch, it
 * would keep every batch at its minimum on a slow disk), so that a call's
 * work takes about MS_HK_SLICE_US whatever the step and the machine
 * (make bench, half rate after a 20,000 backlog: batches grown by count to
 * 5000 rows sealed the backlog's 40,000 audit rows in long calls, and the
 * answers claimed by that verifier next waited for each).  A batch that came
 * back full (more is waiting) in less than half a slice is doubled, one
 * that took longer than a slice is cut in proportion, both within the
 * step's bounds; a round that needed at most two calls halves it.  The
 * backlog is cleared by more calls, not longer ones: sealing keeps up with
 * the peak's audit rows at a slice every two (test/bench/seal.sh, 3,000
 * rows/s for 30 s: at most 1,230 unsealed, none 30 s after).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "bgworker.h"
#include "housekeeping.h"
#include "queue.h"

#define MS_HK_GAP_MS 10
#define MS_HK_SLICE_US 5000

/* a step's batch bounds (rows per call) */
static const struct
{
	int			min;
	int			max;
} hk_bounds[MS_HK_NSTEPS] = {
	[MS_HK_EXPIRE] = {100, 500},
	[MS_HK_SEAL] = {50, 5000},	/* audit_seal's own UPDATE batch */
	[MS_HK_CLEANUP] = {100, 5000},
};

void
ms_hk_init(MsHousekeeper *hk, bool spaced, TimestampTz now)
{
	memset(hk, 0, sizeof(*hk));
	hk->spaced = spaced;
	hk->next_round_at = now;
	hk->next_call_at = now;
	for (int i = 0; i < MS_HK_NSTEPS; i++)
		hk->step[i].batch = hk_bounds[i].min;
}

/* every step due; a step the last round found easy gets a smaller batch */
static void
start_round(MsHousekeeper *hk, TimestampTz now)
{
	for (int i = 0; i < MS_HK_NSTEPS; i++)
	{
		MsHkStep   *st = &hk->step[i];

		if (!st->due && st->calls <= 2)
			st->batch = Max(st->batch / 2, hk_bounds[i].min);
		st->due = true;
		st->calls = 0;
	}
	hk->next = 0;
	hk->next_round_at = TimestampTzPlusMilliseconds(now, ms_worker_housekeeping_ms);
}

const char *
ms_hk_run(MsHousekeeper *hk, TimestampTz now, int64 *rows)
{
	*rows = 0;
	if (now >= hk->next_round_at)
		start_round(hk, now);
	if (now < hk->next_call_at)
		return NULL;
	for (int k = 0; k < MS_HK_NSTEPS; k++)
	{
		int			i = (hk->next + k) % MS_HK_NSTEPS;
		MsHkStep   *st = &hk->step[i];
		TimestampTz start;
		TimestampTz end;
		int64		work_us;
		long		took_ms;

		if (!st->due)
			continue;
		hk->next = (i + 1) % MS_HK_NSTEPS;
		start = GetCurrentTimestamp();
		*rows = ms_queue_housekeeping((MsHousekeepingStep) i, st->batch, &work_us);
		st->calls++;
		st->due = *rows >= st->batch;
		end = GetCurrentTimestamp();
		took_ms = ms_until(start, end);

		/*
		 * the next batch: about one slice of work.  The commit's flush is
		 * left out: it costs the same for 50 rows as for 5,000, and counted
		 * in, a disk slower than a slice would keep every batch at its
		 * minimum (one flush per 50 audit rows) and sealing behind the
		 * audit rate
		 */
		if (work_us > MS_HK_SLICE_US)
			st->batch = (int) Max((int64) st->batch * MS_HK_SLICE_US / work_us, hk_bounds[i].min);
		else if (st->due && work_us < MS_HK_SLICE_US / 2)
			st->batch = Min(st->batch * 2, hk_bounds[i].max);
		hk->next_call_at = TimestampTzPlusMilliseconds(end, hk->spaced ?
													   Max(MS_HK_GAP_MS, 3 * took_ms) : took_ms);
		return ms_queue_housekeeping_name((MsHousekeepingStep) i);
	}
	/* nothing left this round */
	hk->next_call_at = hk->next_round_at;
	return NULL;
}

TimestampTz
ms_hk_next_at(const MsHousekeeper *hk)
{
	for (int i = 0; i < MS_HK_NSTEPS; i++)
		if (hk->step[i].due)
			return hk->next_call_at;
	return Max(hk->next_call_at, hk->next_round_at);
}
