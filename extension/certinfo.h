/*-------------------------------------------------------------------------
 *
 * certinfo.h
 *	  Decoding certificates and CRLs into the columns of the caches
 *	  (mobisign._cert_info, mobisign._crl_info).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_CERTINFO_H
#define MOBISIGN_CERTINFO_H

#endif							/* MOBISIGN_CERTINFO_H */
