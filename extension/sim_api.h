/*
 * sim_api.h
 *	  The SIM channel's SQL API: GUCs, random values, key registration.
 *
 * The transaction logic itself is SQL (sql/parts/4*_sim_*.sql); the C side
 * provides what SQL cannot do: CSPRNG values, key wrapping, building and
 * opening secured packets (sim_request.c, sim_response.c) and waiting
 * (sim_wait.c).
 */
#ifndef MOBISIGN_SIM_API_H
#define MOBISIGN_SIM_API_H

extern void ms_sim_init(void);

#endif
