/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  Progress of long work (mobisign_audit_verify(), ...): shown to the
 *	  caller as NOTICEs and to everyone else in the view mobisign.progress.
 *
 * One command at a time per backend, in phases; each phase has a count of
 * units done and, when known, a total.  A command lasts until the end of
 * the (sub)transaction that began it: the view shows its last state (the
 * phase "done") until then, and nothing after.  Counting a unit costs an
 * increment; the clock is read every MS_PROGRESS_CLOCK_EVERY units, the
 * shared slot written at most every MS_PROGRESS_PUBLISH_MS, a NOTICE sent
 * at most every mobisign.progress_interval (0: none).  Without
 * shared_preload_libraries, or with every slot taken, there are NOTICEs
 * but no row in the view.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_PROGRESS_H
#define MOBISIGN_PROGRESS_H

#define MS_PROGRESS_SLOTS 32		/* commands shown at once, cluster-wide */
#define MS_PROGRESS_NAME_LEN 32		/* command and phase names, NUL included */
#define MS_PROGRESS_CLOCK_EVERY 4096
#define MS_PROGRESS_PUBLISH_MS 250

/* GUC, the shared memory request and the transaction callbacks */
extern void ms_progress_init(void);

/*
 * Begin command (or go on with it) in phase, with total units (negative:
 * not known) of which done are done.  Shown at once.
 */
extern void ms_progress_phase(const char *command, const char *phase, int64 total, int64 done);

/* Is a command in progress in this backend? (callers shared with other work) */
extern bool ms_progress_active(void);

/* n more units of the current phase done (nothing when no command runs) */
extern void ms_progress_advance(int64 n);

#endif							/* MOBISIGN_PROGRESS_H */
