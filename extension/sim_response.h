/*
 * sim_response.h
 *	  Opening a SIM's answer (SMS segments -> OTA response packet -> applet
 *	  response) and verifying the CMS signature it carries.
 */
#ifndef MOBISIGN_SIM_RESPONSE_H
#define MOBISIGN_SIM_RESPONSE_H

#include "postgres.h"

#include "fmgr.h"

/*
 * The file's interface is SQL (sql/parts/40_sim.sql calls both; the
 * comments in sim_response.c give the columns):
 *
 * mobisign._open_response(msisdn, key_set, tar, kic_wrapped, kid_wrapped,
 *		segments bytea[]) -> (stage, failure, counter, por_status, reference,
 *		result, result_name, cms): never throws for a bad answer; stage says
 *		how far it got.
 * mobisign._verify_answer(cms, content, certificate, pki, kind,
 *		intermediates bytea[]) -> (valid, status_code, reason, ...): the CMS
 *		of an OK answer against the registered certificate and the PKI.
 */
extern Datum ms_open_response(PG_FUNCTION_ARGS);
extern Datum ms_verify_answer(PG_FUNCTION_ARGS);

#endif
