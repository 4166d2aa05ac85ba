/*-------------------------------------------------------------------------
 *
 * charclass.h
 *	  The Unicode characters that must never reach a SIM's screen or a label.
 *
 * What you see is what you sign: a control character (general category
 * Cc: BEL, CR, NEL...), a format character (Cf: U+200B zero width space,
 * U+202E right-to-left override, U+FEFF byte order mark...) or a line or
 * paragraph separator (Zl, Zp) can make the screen show something other
 * than the text that is signed, or hide part of it.  This file is the one
 * home of that set (Unicode 15.1); the display text encoder
 * (msc_display_encode, gsm7.h) refuses every such character except the
 * newline U+000A, and the extension refuses all of them in labels and
 * identifiers (extension/input_limits.c).
 *
 * Plain C, no PostgreSQL headers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_CHARCLASS_H
#define MSC_CHARCLASS_H

#include <stdint.h>

/* Unicode general category of a refused character, or NULL if allowed. */
extern const char *msc_char_refused_category(uint32_t cp);

#endif							/* MSC_CHARCLASS_H */
