/*-------------------------------------------------------------------------
 *
 * gsm7.h
 *	  Display text codings: GSM 03.38 / 3GPP TS 23.038 default alphabet
 *	  (7-bit, with the extension table reached through ESC 0x1B) and UCS-2
 *	  (big-endian, Basic Multilingual Plane only).
 *
 * Septet buffers hold one septet value (0x00..0x7F) per byte; an extension
 * character is the two septets 0x1B, code and counts two.  The mapping is
 * one-to-one (no lossy folding), so UTF-8 -> GSM 7-bit -> UTF-8 gives back
 * the same bytes: what the phone shows is exactly what the SIM signs.
 *
 * UTF-8 input is validated strictly: overlong forms, surrogates (U+D800..
 * U+DFFF), code points above U+10FFFF, truncated sequences and U+0000 are
 * MSC_E_UTF8.  Code points above U+FFFF (astral) cannot be UCS-2 and give
 * MSC_E_UNREPRESENTABLE.
 *
 * What you see is what you sign: a display text holds printable characters
 * and the newline U+000A only.  msc_display_encode() refuses every other
 * control, format or separator character (charclass.h: CR, BEL, NEL,
 * U+200B, U+202E, U+FEFF...) with MSC_E_CONTROL before choosing a coding,
 * so no request can carry one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_GSM7_H
#define MSC_GSM7_H

#include "msc.h"

#define MSC_GSM7_ESC	0x1B

/* Data coding of the display text (DCS values of TS 23.038 / TS 102 223). */
#define MSC_DCS_GSM7	0x00	/* GSM 7-bit default alphabet, packed */
#define MSC_DCS_UCS2	0x08	/* UCS-2 big-endian */

/*
 * Screen limits (defaults): the SIM shows at most 160 septets of GSM 7-bit
 * text (an extension character counts two) or 70 UCS-2 characters, i.e. one
 * SMS worth of text.  Both are parameters; neither may exceed
 * MSC_DISPLAY_MAX_UNITS (the septet count travels in one byte).
 */
#define MSC_GSM7_MAX_SEPTETS_DEFAULT	160
#define MSC_UCS2_MAX_CHARS_DEFAULT		70
#define MSC_DISPLAY_MAX_UNITS			255
#define MSC_DISPLAY_MAX_BYTES			(2 * MSC_DISPLAY_MAX_UNITS)

typedef struct msc_display_limits
{
	size_t		gsm7_max_septets;	/* default 160 */
	size_t		ucs2_max_chars; /* default 70 */
} msc_display_limits;

/* An encoded display text, ready for the applet request (see applet.h). */
typedef struct msc_display_text
{
	uint8_t		coding;			/* MSC_DCS_GSM7 or MSC_DCS_UCS2 */
	size_t		units;			/* septets (GSM 7-bit) or characters (UCS-2) */
	size_t		len;			/* bytes used in data */
	uint8_t		data[MSC_DISPLAY_MAX_BYTES];	/* packed septets or UCS-2 BE */
} msc_display_text;

/*
 * UTF-8 -> GSM 7-bit septets.  Writes *nseptets septets to septets (up to
 * cap; MSC_E_BUFFER if more are needed).  septets may be NULL to count only
 * (cap ignored).  MSC_E_UNREPRESENTABLE if a character has no GSM 7-bit
 * form, MSC_E_UTF8 on invalid UTF-8.
 */
extern msc_rc msc_gsm7_from_utf8(const uint8_t *utf8, size_t len,
								 uint8_t *septets, size_t cap,
								 size_t *nseptets);

/* Number of septets the UTF-8 text needs (extension characters count two). */
extern msc_rc msc_gsm7_count(const uint8_t *utf8, size_t len, size_t *nseptets);

/*
 * GSM 7-bit septets -> UTF-8.  MSC_E_VALUE on a septet > 0x7F, an ESC at the
 * end, or ESC followed by a code with no extension character (the spec's
 * fallback to the base table is not used: such text is refused).
 */
extern msc_rc msc_gsm7_to_utf8(const uint8_t *septets, size_t nseptets,
							   uint8_t *utf8, size_t cap, size_t *utf8_len);

/*
 * Strict UTF-8 check (the rules above); MSC_OK or MSC_E_UTF8.  *nchars
 * (may be NULL) receives the number of code points.
 */
extern msc_rc msc_utf8_validate(const uint8_t *utf8, size_t len, size_t *nchars);

/* Octets needed to pack n septets: ceil(7n / 8). */
extern size_t msc_gsm7_packed_len(size_t nseptets);

/*
 * Pack septets into octets, TS 23.038 §6.1.2.1 (LSB first, no fill bits,
 * spare high bits of the last octet zero).  "hellohello" packs to
 * e8 32 9b fd 46 97 d9 ec 37.
 */
extern msc_rc msc_gsm7_pack(const uint8_t *septets, size_t nseptets,
							uint8_t *out, size_t cap, size_t *out_len);

/*
 * Unpack nseptets septets from packed[0..len); len must equal
 * msc_gsm7_packed_len(nseptets) (else MSC_E_LENGTH).  septets needs
 * nseptets bytes (cap).
 */
extern msc_rc msc_gsm7_unpack(const uint8_t *packed, size_t len, size_t nseptets,
							  uint8_t *septets, size_t cap);

/*
 * UTF-8 -> UCS-2 big-endian (2 bytes per character).  *out_len is in bytes.
 * out may be NULL to measure only.
 */
extern msc_rc msc_utf8_to_ucs2(const uint8_t *utf8, size_t len,
							   uint8_t *out, size_t cap, size_t *out_len);

/*
 * UCS-2 big-endian -> UTF-8.  len must be even (MSC_E_LENGTH); surrogate
 * code units and U+0000 are MSC_E_VALUE.
 */
extern msc_rc msc_ucs2_to_utf8(const uint8_t *ucs2, size_t len,
							   uint8_t *utf8, size_t cap, size_t *utf8_len);

/* Fills *lim with the defaults (160 septets, 70 characters). */
extern void msc_display_limits_default(msc_display_limits *lim);

/*
 * Decide the display coding and check the screen limit.  GSM 7-bit when
 * every character is in the default alphabet or its extension table, else
 * UCS-2.  lim may be NULL for the defaults.  Returns
 *	MSC_OK                 out filled (coding, units, packed or UCS-2 bytes);
 *	MSC_E_TOO_LONG         GSM 7-bit over lim->gsm7_max_septets, or UCS-2
 *	                       over lim->ucs2_max_chars (server answers 103);
 *	MSC_E_CONTROL          a control, format or separator character other
 *	                       than the newline (103; msc_display_find_refused
 *	                       names it);
 *	MSC_E_UNREPRESENTABLE  a character outside the BMP (103);
 *	MSC_E_UTF8             invalid UTF-8 (103);
 *	MSC_E_ARG              limits above MSC_DISPLAY_MAX_UNITS or NULL args.
 * The empty text is valid (GSM 7-bit, 0 septets).
 */
extern msc_rc msc_display_encode(const uint8_t *utf8, size_t len,
								 const msc_display_limits *lim,
								 msc_display_text *out);

/*
 * The first character that a display text may not hold (see above):
 * MSC_E_CONTROL with *index (0-based, in characters), *cp and *category
 * ("Cc", "Cf", "Zl" or "Zp") set; MSC_OK when there is none; MSC_E_UTF8 on
 * invalid UTF-8.  Any output pointer may be NULL.
 */
extern msc_rc msc_display_find_refused(const uint8_t *utf8, size_t len, size_t *index,
									   uint32_t *cp, const char **category);

/*
 * Decode a display text back to UTF-8 (what the SIM signs for "sign").
 * coding MSC_DCS_GSM7: data is packed septets, units the septet count;
 * coding MSC_DCS_UCS2: data is UCS-2 BE, units ignored (len/2 characters).
 * Other codings: MSC_E_VALUE.
 */
extern msc_rc msc_display_decode(uint8_t coding, const uint8_t *data, size_t len,
								 size_t units, uint8_t *utf8, size_t cap,
								 size_t *utf8_len);

#endif							/* MSC_GSM7_H */
