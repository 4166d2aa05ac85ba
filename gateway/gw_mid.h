/*
 * gw_mid.h
 *	  mobisign-gateway: the Mobile-ID REST API (SK-EID/MID v1) under
 *	  /mid-api/.
 */
#ifndef GW_MID_H
#define GW_MID_H

#include "gw_api.h"

typedef struct gw_mid_config
{
	int			min_poll_ms;	/* timeoutMs below this is raised to it */
	int			max_poll_ms;	/* and above this lowered to it */
	int			session_timeout_s;	/* of the transactions it starts (0: mobisign's default) */
} gw_mid_config;

/* Handles one request below /mid-api/ (req->path without that prefix). */
extern void gw_mid_handle(const gw_http_request *req, const gw_mid_config *cfg, gw_reply *out);

#endif							/* GW_MID_H */
