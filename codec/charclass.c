/*-------------------------------------------------------------------------
 *
 * charclass.c
 *	  Control, format and separator characters (see charclass.h).
 *
 * The Cf ranges are those of Unicode 15.1 (UnicodeData.txt); every
 * assigned format character is listed, so that a newer invisible character
 * inside a known block is refused as well.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>

#include "charclass.h"

typedef struct cp_range
{
	uint32_t	lo;
	uint32_t	hi;
} cp_range;

/* general category Cf (format), in code point order */
static const cp_range format_chars[] = {
	{0x00AD, 0x00AD},			/* soft hyphen */
	{0x0600, 0x0605},			/* Arabic number signs */
	{0x061C, 0x061C},			/* Arabic letter mark */
	{0x06DD, 0x06DD},
	{0x070F, 0x070F},
	{0x0890, 0x0891},
	{0x08E2, 0x08E2},
	{0x180E, 0x180E},			/* Mongolian vowel separator */
	{0x200B, 0x200F},			/* zero width space .. right-to-left mark */
	{0x202A, 0x202E},			/* bidirectional embeddings and overrides */
	{0x2060, 0x2064},			/* word joiner, invisible operators */
	{0x2066, 0x206F},			/* bidirectional isolates, deprecated formats */
	{0xFEFF, 0xFEFF},			/* byte order mark */
	{0xFFF9, 0xFFFB},			/* interlinear annotation */
	{0x110BD, 0x110BD},
	{0x110CD, 0x110CD},
	{0x13430, 0x1343F},			/* Egyptian hieroglyph format controls */
	{0x1BCA0, 0x1BCA3},			/* shorthand format controls */
	{0x1D173, 0x1D17A},			/* musical symbol formatting */
	{0xE0001, 0xE0001},			/* language tag */
	{0xE0020, 0xE007F},			/* tag characters */
};

const char *
msc_char_refused_category(uint32_t cp)
{
	size_t		i;

	if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F))
		return "Cc";
	if (cp == 0x2028)
		return "Zl";
	if (cp == 0x2029)
		return "Zp";
	for (i = 0; i < sizeof(format_chars) / sizeof(format_chars[0]); i++)
	{
		if (cp < format_chars[i].lo)
			break;
		if (cp <= format_chars[i].hi)
			return "Cf";
	}
	return NULL;
}
