/*
 * sim_api.c
 *	  The SIM channel's SQL API (placeholder until the SIM channel lands).
 */
#include "postgres.h"

#include "sim_api.h"

void
ms_sim_init(void)
{
}
