/*
 * gw_etsi.h
 *	  mobisign-gateway: ETSI TS 102 204 MSS requests over REST/JSON at
 *	  POST /rest/service.
 */
#ifndef GW_ETSI_H
#define GW_ETSI_H

#include "gw_api.h"

/* The signature profiles mobisign offers (MSS_ProfileQueryResp, SignatureProfile). */
#define GW_ETSI_PROFILE_SIGN	"urn:mobisign:profile:sign"
#define GW_ETSI_PROFILE_AUTH	"urn:mobisign:profile:authenticate"

typedef struct gw_etsi_config
{
	int			max_wait_ms;	/* longest wait of a synch request */
} gw_etsi_config;

/* Handles one request at /rest/service. */
extern void gw_etsi_handle(const gw_http_request *req, const gw_etsi_config *cfg, gw_reply *out);

#endif							/* GW_ETSI_H */
