/*
 * sim_request.h
 *	  Building the request to a SIM: display text check, applet request
 *	  signed by the service provider, OTA command packet, SMS segments.
 */
#ifndef MOBISIGN_SIM_REQUEST_H
#define MOBISIGN_SIM_REQUEST_H

/* The command packets' SPI (counter process-if-higher, ciphered, CC; PoR ciphered, CC, always) */
#include "ota.h"

#define MS_SIM_SPI1 MSC_OTA_SPI1_DEFAULT
#define MS_SIM_SPI2 MSC_OTA_SPI2_DEFAULT

#endif
