/*-------------------------------------------------------------------------
 *
 * text_bytes.h
 *	  The UTF-8 bytes of a text value, for what hashes or stores text that
 *	  may have come from outside unchecked: mobisign._utf8(text),
 *	  mobisign._utf8_or_stored(text) and mobisign._audit_text(text) (the text
 *	  itself, or 'hex:' and its stored bytes), used by the audit
 *	  (sql/parts/20_audit.sql); and the printable form of outside bytes
 *	  that go into a message (ms_append_shown).
 *
 * Invariant: no function here raises an error on any input (but for
 * running out of memory).  A text that is
 * not valid in the database encoding, or has no UTF-8 form, gives NULL
 * (_utf8) or its bytes as stored (_utf8_or_stored).  In a UTF-8 database
 * both return the stored bytes of valid text, so hashes computed before
 * with convert_to(..., 'UTF8') are unchanged.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MOBISIGN_TEXT_BYTES_H
#define MOBISIGN_TEXT_BYTES_H

#include "postgres.h"

#include "lib/stringinfo.h"

/* the UTF-8 form of t as a new bytea, or NULL if it has none; never errors */
extern bytea *ms_text_utf8(text *t);

/* Have n bytes of s (in the database encoding) a UTF-8 form?  As ms_text_utf8() != NULL. */
extern bool ms_chars_have_utf8(const char *s, int n);

/* t if it has a UTF-8 form, else 'hex:' and its stored bytes (lower-case hex) */
extern text *ms_audit_text(text *t);

/*
 * Appends at most max_bytes bytes of s (len bytes, from outside: a name in a
 * certificate, a server's diagnostic message) to buf as printable ASCII:
 * 0x20..0x7E as themselves except '"' and '\', every other byte as \xNN
 * (lower-case hex), then "..." if len > max_bytes.  At most 4 * max_bytes + 3
 * bytes are appended, always valid UTF-8 without control characters, never an
 * escape cut in two; distinct inputs of at most max_bytes bytes stay
 * distinct.
 */
extern void ms_append_shown(StringInfo buf, const char *s, size_t len, size_t max_bytes);

#endif							/* MOBISIGN_TEXT_BYTES_H */
