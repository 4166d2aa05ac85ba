/*
 * link_stats.h
 *	  Per-bind counters of the SMPP links, as mobisign.worker_binds shows
 *	  them (docs/worker.md).
 *
 * The worker keeps the counters of each session in its own memory
 * (smpp_session.c) and publishes a snapshot of every bind into the shared
 * entry (bgworker.h, MsWorkerShared.binds) once per turn of its loop.
 * Invariants: only the worker that owns the shared entry (its pid) writes
 * the snapshot, under the entry's spinlock; a reader takes a copy under the
 * same lock and shows no row when no worker owns the entry.  Counters count
 * from the moment the worker opened the link (a changed row of
 * mobisign.smsc, or a restarted worker, starts again from 0).
 */
#ifndef MOBISIGN_LINK_STATS_H
#define MOBISIGN_LINK_STATS_H

#include "datatype/timestamp.h"

/* the most binds one link opens (the CHECK on mobisign.smsc.binds) */
#define MS_SMPP_MAX_BINDS 10
/* the most links the worker keeps open (enabled rows of mobisign.smsc) */
#define MS_SMPP_MAX_LINKS 16
#define MS_BIND_STATS_SLOTS (MS_SMPP_MAX_LINKS * MS_SMPP_MAX_BINDS)

/* what one session counted since its link was opened */
typedef struct MsBindCounters
{
	uint64		sent;			/* submit_sm written */
	uint64		acknowledged;	/* submit_sm answered ESME_ROK */
	uint64		throttled;		/* submit_sm answered ESME_RTHROTTLED/RMSGQFUL */
	uint64		errors;			/* refusals, lost sessions, refused PDUs */
	uint64		received;		/* deliver_sm handed to the loop to store */
	uint64		reconnects;		/* connection attempts after the first */
} MsBindCounters;

/* one row of mobisign.worker_binds */
typedef struct MsBindStats
{
	int			smsc_id;
	char		link[64];
	int			bind;			/* 1 .. binds */
	int			binds;
	char		state[16];
	int			window_in_use;
	int			window_size;
	int			max_per_second;
	TimestampTz bound_since;	/* 0 unless bound */
	MsBindCounters c;
} MsBindStats;

typedef struct MsBindStatsShared
{
	int			n;
	MsBindStats rows[MS_BIND_STATS_SLOTS];
} MsBindStatsShared;

/* owner only: replace the published snapshot by rows[0..n-1] */
extern void ms_link_stats_publish(const MsBindStats *rows, int n);

#endif
