/*
 * sim_request.h
 *	  Building the request to a SIM: display text check, applet request
 *	  signed by the service provider, OTA command packet, SMS segments.
 */
#ifndef MOBISIGN_SIM_REQUEST_H
#define MOBISIGN_SIM_REQUEST_H

/* The command packets' SPI (counter process-if-higher, ciphered, CC; PoR ciphered, CC, always) */
#define MS_SIM_SPI1 0x16
#define MS_SIM_SPI2 0x39

#endif
