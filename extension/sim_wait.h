/*
 * sim_wait.h
 *	  Waiting for a transaction to become final (mobisign_wait) and waking
 *	  the worker at commit.
 */
#ifndef MOBISIGN_SIM_WAIT_H
#define MOBISIGN_SIM_WAIT_H

#endif
