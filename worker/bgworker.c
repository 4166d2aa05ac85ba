/*
 * bgworker.c
 *	  The background worker (placeholder until the SIM channel lands).
 */
#include "postgres.h"

#include "bgworker.h"

void
ms_worker_init(void)
{
}

void
ms_worker_wake_at_commit(void)
{
}
