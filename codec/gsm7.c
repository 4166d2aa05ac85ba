/*-------------------------------------------------------------------------
 *
 * gsm7.c
 *	  GSM 03.38 default alphabet, 7-bit packing, UCS-2, display coding.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "charclass.h"
#include "gsm7.h"

/* TS 23.038 §6.2.1 default alphabet: septet value -> Unicode code point. */
static const uint16_t gsm7_base[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
	0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
	0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
	0x03A3, 0x0398, 0x039E, 0xFFFF, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
	0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
	0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
	0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
	0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
	0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
	0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
	0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
	0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0
};

/* TS 23.038 §6.2.1.1 extension table (after ESC 0x1B). */
typedef struct gsm7_ext
{
	uint8_t		code;
	uint16_t	cp;
} gsm7_ext;

static const gsm7_ext gsm7_ext_table[] = {
	{0x0A, 0x000C},				/* form feed */
	{0x14, 0x005E},				/* ^ */
	{0x28, 0x007B},				/* { */
	{0x29, 0x007D},				/* } */
	{0x2F, 0x005C},				/* backslash */
	{0x3C, 0x005B},				/* [ */
	{0x3D, 0x007E},				/* ~ */
	{0x3E, 0x005D},				/* ] */
	{0x40, 0x007C},				/* | */
	{0x65, 0x20AC},				/* euro sign */
};

#define N_EXT (sizeof(gsm7_ext_table) / sizeof(gsm7_ext_table[0]))

/*
 * Decode one UTF-8 code point at s[*pos], strictly.  Advances *pos.
 */
static msc_rc
utf8_next(const uint8_t *s, size_t len, size_t *pos, uint32_t *cp)
{
	size_t		i = *pos;
	uint8_t		c = s[i];
	uint32_t	v;
	size_t		n,
				k;

	if (c < 0x80)
	{
		v = c;
		n = 1;
	}
	else if (c >= 0xC2 && c <= 0xDF)
	{
		v = c & 0x1F;
		n = 2;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		v = c & 0x0F;
		n = 3;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		v = c & 0x07;
		n = 4;
	}
	else
		return MSC_E_UTF8;
	if (n > len - i)
		return MSC_E_UTF8;
	for (k = 1; k < n; k++)
	{
		uint8_t		cc = s[i + k];

		if ((cc & 0xC0) != 0x80)
			return MSC_E_UTF8;
		v = (v << 6) | (cc & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF, NUL */
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
		v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || v == 0)
		return MSC_E_UTF8;
	*cp = v;
	*pos = i + n;
	return MSC_OK;
}

/* Encode one code point (already valid) as UTF-8; returns octets written. */
static size_t
utf8_put(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80)
	{
		out[0] = (uint8_t) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (uint8_t) (0xC0 | (cp >> 6));
		out[1] = (uint8_t) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (uint8_t) (0xE0 | (cp >> 12));
		out[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t) (0xF0 | (cp >> 18));
	out[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Septets for one code point: 1 (base, *a set), 2 (ESC + *a), or 0 when
 * not representable.
 */
static int
gsm7_lookup(uint32_t cp, uint8_t *a)
{
	int			i;

	for (i = 0; i < 128; i++)
	{
		if (i == MSC_GSM7_ESC)
			continue;
		if (gsm7_base[i] == cp)
		{
			*a = (uint8_t) i;
			return 1;
		}
	}
	for (i = 0; i < (int) N_EXT; i++)
	{
		if (gsm7_ext_table[i].cp == cp)
		{
			*a = gsm7_ext_table[i].code;
			return 2;
		}
	}
	return 0;
}

msc_rc
msc_gsm7_from_utf8(const uint8_t *utf8, size_t len,
				   uint8_t *septets, size_t cap, size_t *nseptets)
{
	size_t		pos = 0;
	size_t		n = 0;

	if ((utf8 == NULL && len > 0) || nseptets == NULL)
		return MSC_E_ARG;
	while (pos < len)
	{
		uint32_t	cp;
		uint8_t		code;
		int			w;
		msc_rc		rc = utf8_next(utf8, len, &pos, &cp);

		if (rc != MSC_OK)
			return rc;
		w = gsm7_lookup(cp, &code);
		if (w == 0)
			return MSC_E_UNREPRESENTABLE;
		if (septets != NULL)
		{
			if ((size_t) w > cap - n)
				return MSC_E_BUFFER;
			if (w == 2)
				septets[n] = MSC_GSM7_ESC;
			septets[n + w - 1] = code;
		}
		n += w;
	}
	*nseptets = n;
	return MSC_OK;
}

msc_rc
msc_gsm7_count(const uint8_t *utf8, size_t len, size_t *nseptets)
{
	return msc_gsm7_from_utf8(utf8, len, NULL, 0, nseptets);
}

msc_rc
msc_gsm7_to_utf8(const uint8_t *septets, size_t nseptets,
				 uint8_t *utf8, size_t cap, size_t *utf8_len)
{
	size_t		i = 0;
	size_t		o = 0;

	if ((septets == NULL && nseptets > 0) || utf8_len == NULL ||
		(utf8 == NULL && cap > 0))
		return MSC_E_ARG;
	while (i < nseptets)
	{
		uint32_t	cp = 0xFFFF;
		uint8_t		tmp[4];
		size_t		w;
		uint8_t		s = septets[i];

		if (s > 0x7F)
			return MSC_E_VALUE;
		if (s == MSC_GSM7_ESC)
		{
			size_t		k;

			if (i + 1 >= nseptets)
				return MSC_E_VALUE;
			for (k = 0; k < N_EXT; k++)
				if (gsm7_ext_table[k].code == septets[i + 1])
					cp = gsm7_ext_table[k].cp;
			if (cp == 0xFFFF)
				return MSC_E_VALUE;
			i += 2;
		}
		else
		{
			cp = gsm7_base[s];
			i++;
		}
		w = utf8_put(cp, tmp);
		if (w > cap - o)
			return MSC_E_BUFFER;
		memcpy(utf8 + o, tmp, w);
		o += w;
	}
	*utf8_len = o;
	return MSC_OK;
}

/*
 * Walk strict UTF-8, counting code points into *n.  With refuse set, stop
 * at the first character a display text may not hold (charclass.h; the
 * newline is allowed): MSC_E_CONTROL, *cp and *category set, *n its index.
 */
static msc_rc
utf8_scan(const uint8_t *utf8, size_t len, int refuse, size_t *n,
		  uint32_t *cp, const char **category)
{
	size_t		pos = 0;

	*n = 0;
	if (utf8 == NULL && len > 0)
		return MSC_E_ARG;
	while (pos < len)
	{
		msc_rc		rc = utf8_next(utf8, len, &pos, cp);

		if (rc != MSC_OK)
			return rc;
		if (refuse && *cp != 0x0A &&
			(*category = msc_char_refused_category(*cp)) != NULL)
			return MSC_E_CONTROL;
		(*n)++;
	}
	return MSC_OK;
}

msc_rc
msc_utf8_validate(const uint8_t *utf8, size_t len, size_t *nchars)
{
	size_t		n;
	uint32_t	cp;
	const char *category;
	msc_rc		rc = utf8_scan(utf8, len, 0, &n, &cp, &category);

	if (rc == MSC_OK && nchars != NULL)
		*nchars = n;
	return rc;
}

size_t
msc_gsm7_packed_len(size_t nseptets)
{
	return (nseptets * 7 + 7) / 8;
}

msc_rc
msc_gsm7_pack(const uint8_t *septets, size_t nseptets,
			  uint8_t *out, size_t cap, size_t *out_len)
{
	size_t		need;
	size_t		i;

	if ((septets == NULL && nseptets > 0) || out_len == NULL ||
		nseptets > ((size_t) -1) / 8)
		return MSC_E_ARG;
	need = msc_gsm7_packed_len(nseptets);
	if (need > cap)
		return MSC_E_BUFFER;
	if (need > 0 && out == NULL)
		return MSC_E_ARG;
	if (need > 0)
		memset(out, 0, need);
	for (i = 0; i < nseptets; i++)
	{
		size_t		bit = i * 7;
		size_t		byte = bit / 8;
		unsigned	shift = (unsigned) (bit % 8);
		unsigned	v = septets[i];

		if (v > 0x7F)
			return MSC_E_VALUE;
		out[byte] |= (uint8_t) (v << shift);
		if (shift > 1)
			out[byte + 1] |= (uint8_t) (v >> (8 - shift));
	}
	*out_len = need;
	return MSC_OK;
}

msc_rc
msc_gsm7_unpack(const uint8_t *packed, size_t len, size_t nseptets,
				uint8_t *septets, size_t cap)
{
	size_t		i;

	if ((packed == NULL && len > 0) || (septets == NULL && nseptets > 0) ||
		nseptets > ((size_t) -1) / 8)
		return MSC_E_ARG;
	if (len != msc_gsm7_packed_len(nseptets))
		return MSC_E_LENGTH;
	if (nseptets > cap)
		return MSC_E_BUFFER;
	for (i = 0; i < nseptets; i++)
	{
		size_t		bit = i * 7;
		size_t		byte = bit / 8;
		unsigned	shift = (unsigned) (bit % 8);
		unsigned	v = (unsigned) packed[byte] >> shift;

		if (shift > 1)
			v |= (unsigned) packed[byte + 1] << (8 - shift);
		septets[i] = (uint8_t) (v & 0x7F);
	}
	return MSC_OK;
}

msc_rc
msc_utf8_to_ucs2(const uint8_t *utf8, size_t len,
				 uint8_t *out, size_t cap, size_t *out_len)
{
	size_t		pos = 0;
	size_t		o = 0;

	if ((utf8 == NULL && len > 0) || out_len == NULL)
		return MSC_E_ARG;
	while (pos < len)
	{
		uint32_t	cp;
		msc_rc		rc = utf8_next(utf8, len, &pos, &cp);

		if (rc != MSC_OK)
			return rc;
		if (cp > 0xFFFF)
			return MSC_E_UNREPRESENTABLE;
		if (out != NULL)
		{
			if (cap - o < 2)
				return MSC_E_BUFFER;
			out[o] = (uint8_t) (cp >> 8);
			out[o + 1] = (uint8_t) (cp & 0xFF);
		}
		o += 2;
	}
	*out_len = o;
	return MSC_OK;
}

msc_rc
msc_ucs2_to_utf8(const uint8_t *ucs2, size_t len,
				 uint8_t *utf8, size_t cap, size_t *utf8_len)
{
	size_t		i;
	size_t		o = 0;

	if ((ucs2 == NULL && len > 0) || utf8_len == NULL ||
		(utf8 == NULL && cap > 0))
		return MSC_E_ARG;
	if (len % 2 != 0)
		return MSC_E_LENGTH;
	for (i = 0; i < len; i += 2)
	{
		uint32_t	cp = ((uint32_t) ucs2[i] << 8) | ucs2[i + 1];
		uint8_t		tmp[4];
		size_t		w;

		if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
			return MSC_E_VALUE;
		w = utf8_put(cp, tmp);
		if (w > cap - o)
			return MSC_E_BUFFER;
		memcpy(utf8 + o, tmp, w);
		o += w;
	}
	*utf8_len = o;
	return MSC_OK;
}

void
msc_display_limits_default(msc_display_limits *lim)
{
	if (lim == NULL)
		return;
	lim->gsm7_max_septets = MSC_GSM7_MAX_SEPTETS_DEFAULT;
	lim->ucs2_max_chars = MSC_UCS2_MAX_CHARS_DEFAULT;
}

msc_rc
msc_display_find_refused(const uint8_t *utf8, size_t len, size_t *index,
						 uint32_t *cp, const char **category)
{
	size_t		n;
	uint32_t	c = 0;
	const char *cat = NULL;
	msc_rc		rc = utf8_scan(utf8, len, 1, &n, &c, &cat);

	if (rc == MSC_E_CONTROL)
	{
		if (index != NULL)
			*index = n;
		if (cp != NULL)
			*cp = c;
		if (category != NULL)
			*category = cat;
	}
	return rc;
}

msc_rc
msc_display_encode(const uint8_t *utf8, size_t len,
				   const msc_display_limits *lim,
				   msc_display_text *out)
{
	msc_display_limits def;
	size_t		nsept;
	size_t		nbytes;
	msc_rc		rc;

	if ((utf8 == NULL && len > 0) || out == NULL)
		return MSC_E_ARG;
	if (lim == NULL)
	{
		msc_display_limits_default(&def);
		lim = &def;
	}
	if (lim->gsm7_max_septets > MSC_DISPLAY_MAX_UNITS ||
		lim->ucs2_max_chars > MSC_DISPLAY_MAX_UNITS)
		return MSC_E_ARG;
	memset(out, 0, sizeof(*out));

	/* what you see is what you sign: nothing invisible, nothing that moves text */
	rc = msc_display_find_refused(utf8, len, NULL, NULL, NULL);
	if (rc != MSC_OK)
		return rc;

	/* GSM 7-bit when every character has a GSM form and the text fits. */
	rc = msc_gsm7_count(utf8, len, &nsept);
	if (rc == MSC_E_UTF8)
		return rc;
	if (rc == MSC_OK)
	{
		if (nsept <= lim->gsm7_max_septets)
		{
			uint8_t		septets[MSC_DISPLAY_MAX_UNITS];

			rc = msc_gsm7_from_utf8(utf8, len, septets, sizeof(septets), &nsept);
			if (rc != MSC_OK)
				return rc;
			rc = msc_gsm7_pack(septets, nsept, out->data, sizeof(out->data),
							   &out->len);
			if (rc != MSC_OK)
				return rc;
			out->coding = MSC_DCS_GSM7;
			out->units = nsept;
			return MSC_OK;
		}
	}

	/* Else UCS-2 (BMP only) within its own limit. */
	rc = msc_utf8_to_ucs2(utf8, len, NULL, 0, &nbytes);
	if (rc != MSC_OK)
		return rc;
	if (nbytes / 2 > lim->ucs2_max_chars)
		return MSC_E_TOO_LONG;
	rc = msc_utf8_to_ucs2(utf8, len, out->data, sizeof(out->data), &out->len);
	if (rc != MSC_OK)
		return rc;
	out->coding = MSC_DCS_UCS2;
	out->units = out->len / 2;
	return MSC_OK;
}

msc_rc
msc_display_decode(uint8_t coding, const uint8_t *data, size_t len,
				   size_t units, uint8_t *utf8, size_t cap,
				   size_t *utf8_len)
{
	if ((data == NULL && len > 0) || utf8_len == NULL)
		return MSC_E_ARG;
	if (coding == MSC_DCS_GSM7)
	{
		uint8_t		septets[MSC_DISPLAY_MAX_UNITS];
		msc_rc		rc;

		if (units > MSC_DISPLAY_MAX_UNITS)
			return MSC_E_VALUE;
		rc = msc_gsm7_unpack(data, len, units, septets, sizeof(septets));
		if (rc != MSC_OK)
			return rc;
		return msc_gsm7_to_utf8(septets, units, utf8, cap, utf8_len);
	}
	if (coding == MSC_DCS_UCS2)
		return msc_ucs2_to_utf8(data, len, utf8, cap, utf8_len);
	return MSC_E_VALUE;
}
