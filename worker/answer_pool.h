/*
 * answer_pool.h
 *	  The answer verifiers: a pool of mobisign.answer_workers dynamic
 *	  background workers ("mobisign verifier") that handle the SIMs' answers
 *	  the SMPP worker has stored, so that verification is not bound to one
 *	  process while the SMPP link keeps one owner.
 *
 * Invariants: the SMPP worker (the owner) launches the verifiers, in its own
 * database, and stops them before it exits (a verifier whose owner is gone
 * exits by itself), so DROP DATABASE and a clean shutdown never wait for a
 * verifier.  The claim of an answer is a row of mobisign.answer_queue
 * deleted in the transaction that handles the answer (queue.c,
 * ms_queue_verify_answers): a verifier that dies rolls it back and loses
 * nothing.  With mobisign.answer_workers = 0 the owner verifies itself,
 * through the same function.
 */
#ifndef MOBISIGN_ANSWER_POOL_H
#define MOBISIGN_ANSWER_POOL_H

#include "postgres.h"

/* Called from _PG_init: the GUC mobisign.answer_workers. */
extern void ms_answer_pool_init(void);

/* Owner: start or stop verifiers until mobisign.answer_workers run. */
extern void ms_answer_pool_adjust(void);

/*
 * Owner: does a verifier keep house (housekeeping.h: the one of slot 0, started
 * and not stopped)?  Else the owner does.
 */
extern bool ms_answer_pool_keeps_house(void);

/* Owner: how many verifiers are running (0: the owner verifies itself). */
extern int	ms_answer_pool_running(void);

/*
 * Owner: answers (> 0: how many) are queued; wake as many idle verifiers
 * (waiting on their latch), in turn, or every verifier when none is idle or
 * the number is not known (<= 0).  A busy verifier looks at the queue again
 * after its batch.
 */
extern void ms_answer_pool_wake(int answers);

/* Owner: stop every verifier (shutdown, extension dropped). */
extern void ms_answer_pool_stop(void);

/* Answers claimed per transaction (one commit per batch). */
#define MS_ANSWER_BATCH 8

extern PGDLLEXPORT void ms_verifier_main(Datum arg);

#endif
