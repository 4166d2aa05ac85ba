/*-------------------------------------------------------------------------
 *
 * ldap_input.h
 *	  What is taken from an LDAP entry found in a directory (a user's mobile
 *	  number and certificates, a CA's CRLs): the choice of attributes and
 *	  values and the mobile number's normalisation.  Plain C (libldap's
 *	  struct berval; see msi.h); ldap_dir.c calls it for every entry.
 *
 * Invariants:
 *	- an attribute counts when its description names the configured
 *	  attribute, ignoring options (";binary") and case;
 *	- a value counts when it holds 1 to max_len bytes; at most "room"
 *	  values are taken, in the directory's order;
 *	- a mobile number is kept only if it is an optional leading '+' and at
 *	  least one digit, once the separators " -.()/" are removed; anything
 *	  else (letters, control bytes, a second '+') makes it no number at all.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSI_LDAP_INPUT_H
#define MSI_LDAP_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <lber.h>

#include "msi.h"

/* longest mobile number value read from a directory, bytes */
#define MSI_LDAP_MSISDN_MAX_LEN 64

extern bool msi_ldap_attr_matches(const char *returned, const char *wanted);

/*
 * Indexes (into vals, NULL-terminated, may be NULL) of the values to take,
 * written to keep[0..room-1]; returns how many.
 */
extern size_t msi_ldap_pick_values(struct berval *const *vals, size_t max_len,
								   size_t room, size_t *keep);

/*
 * The normalised mobile number of a value into out (NUL-terminated; at most
 * len + 1 bytes are needed): MSI_OK, MSI_E_VALUE when it is no number,
 * MSI_E_TOO_LARGE when out is too small; on failure out is "".
 */
extern msi_rc msi_msisdn_normalise(const char *v, size_t len, char *out, size_t outsize);

#endif							/* MSI_LDAP_INPUT_H */
