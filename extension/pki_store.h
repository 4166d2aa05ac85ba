/*
 * pki_store.h
 *	  Per-backend cache of one X509_STORE per PKI, rebuilt when the PKI's
 *	  generation changes.
 */
#ifndef MOBISIGN_PKI_STORE_H
#define MOBISIGN_PKI_STORE_H

extern void ms_pki_store_init(void);

#endif
