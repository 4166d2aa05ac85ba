/*
 * sim_api.h
 *	  The SIM channel's SQL helpers: random values, key wrapping.
 *
 * The transaction logic itself is SQL (sql/parts/4*_sim_*.sql); the C side
 * provides what SQL cannot do: CSPRNG values, key wrapping, building and
 * opening secured packets (sim_request.c, sim_response.c) and waiting
 * (sim_wait.c).
 */
#ifndef MOBISIGN_SIM_API_H
#define MOBISIGN_SIM_API_H

#include "postgres.h"

#include "fmgr.h"

/*
 * The file's interface is SQL:
 *	mobisign._random_bytes(n integer) -> bytea (1 to 1024 CSPRNG bytes)
 *	mobisign._verification_code() -> text (four uniform decimal digits)
 *	mobisign._key_wrap(msisdn, key_set, role, key) -> bytea (keystore.h)
 *	mobisign._key_check(msisdn, key_set, role, wrapped) -> integer (key length)
 *	mobisign._key_rewrap(msisdn, key_set, role, wrapped, from_file) -> bytea
 *	mobisign._master_key_in_token() -> boolean
 */
extern Datum ms_random_bytes(PG_FUNCTION_ARGS);
extern Datum ms_verification_code(PG_FUNCTION_ARGS);
extern Datum ms_key_wrap_sql(PG_FUNCTION_ARGS);
extern Datum ms_key_check_sql(PG_FUNCTION_ARGS);
extern Datum ms_key_rewrap_sql(PG_FUNCTION_ARGS);
extern Datum ms_master_key_in_token(PG_FUNCTION_ARGS);

#endif
