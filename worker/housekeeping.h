/*
 * housekeeping.h
 *	  When and how much housekeeping to do: mobisign._expire(),
 *	  mobisign.audit_seal() and mobisign._queue_cleanup(), one batch at a
 *	  time (queue.c runs a batch), in rounds.
 *
 * Invariants: one process at a time is the housekeeper of a database: the
 * answer verifier of slot 0 (answer_pool.c) while it runs, else the SMPP
 * worker itself, so sealing, expiry and cleanup never hold back the turns
 * that submit and acknowledge when there is a verifier to do them.  (Both at
 * once for a moment is harmless: expiry and cleanup skip locked rows, and
 * audit_seal takes its advisory lock.)  Every mobisign.worker_housekeeping_interval
 * a round marks every step due; a call runs one batch of the next due step
 * (in turn) and says when to call again; a batch adapts to the backlog.
 */
#ifndef MOBISIGN_HOUSEKEEPING_H
#define MOBISIGN_HOUSEKEEPING_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "queue.h"

/* one step's state in the current round */
typedef struct MsHkStep
{
	bool		due;			/* more to do this round */
	int			batch;			/* rows per call */
	int			calls;			/* calls this round */
} MsHkStep;

typedef struct MsHousekeeper
{
	bool		spaced;			/* the SMPP worker: calls spaced by 3x their time */
	TimestampTz next_round_at;
	TimestampTz next_call_at;
	MsHkStep	step[MS_HK_NSTEPS];
	int			next;			/* the step to look at first (round robin) */
} MsHousekeeper;

/* A housekeeper whose first round starts at now. */
extern void ms_hk_init(MsHousekeeper *hk, bool spaced, TimestampTz now);

/*
 * When a call is due at now: one batch of the next step still due (a new
 * round first when its time has come).  Returns the step's name ("audit
 * sealing"), *rows what the batch handled; NULL when nothing ran.
 */
extern const char *ms_hk_run(MsHousekeeper *hk, TimestampTz now, int64 *rows);

/* When ms_hk_run has something to do next. */
extern TimestampTz ms_hk_next_at(const MsHousekeeper *hk);

#endif
