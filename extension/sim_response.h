/*
 * sim_response.h
 *	  Opening a SIM's answer (SMS segments -> OTA response packet -> applet
 *	  response) and verifying the CMS signature it carries.
 */
#ifndef MOBISIGN_SIM_RESPONSE_H
#define MOBISIGN_SIM_RESPONSE_H

#endif
