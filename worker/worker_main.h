/*
 * worker_main.h
 *	  Entry point of the mobisign background worker (registered by name in
 *	  bgworker.c).
 */
#ifndef MOBISIGN_WORKER_MAIN_H
#define MOBISIGN_WORKER_MAIN_H

#include "postgres.h"

extern PGDLLEXPORT void ms_worker_main(Datum main_arg);

#endif
