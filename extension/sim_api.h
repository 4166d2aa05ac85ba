/*
 * sim_api.h
 *	  The SIM channel's SQL API: requests, answers, key storage.
 */
#ifndef MOBISIGN_SIM_API_H
#define MOBISIGN_SIM_API_H

extern void ms_sim_init(void);

#endif
