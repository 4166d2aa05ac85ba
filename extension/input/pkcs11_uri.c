/*-------------------------------------------------------------------------
 *
 * pkcs11_uri.c
 *	  RFC 7512 PKCS#11 URIs: the bounded parser of pkcs11_uri.h.
 *
 * One pass over the bytes, no allocation: each attribute is split at its
 * '=' and decoded straight into its buffer in *out, so no value can grow
 * past its bound.  Every refusal sets *why and zeroes *out.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>
#include <strings.h>

#include "pkcs11_uri.h"

static const char scheme[] = "pkcs11:";

bool
msi_p11_uri_is(const char *s)
{
	return s != NULL && strncasecmp(s, scheme, sizeof(scheme) - 1) == 0;
}

/*
 * Percent-decode v[0..n) into out[0..cap): MSI_OK with *outlen, or
 * MSI_E_URL (bad escape, a byte that must be encoded) / MSI_E_TOO_LARGE.
 */
static msi_rc
decode(const char *v, size_t n, unsigned char *out, size_t cap, size_t *outlen,
	   const char **why)
{
	size_t		i = 0;
	size_t		o = 0;

	while (i < n)
	{
		unsigned char c = (unsigned char) v[i];

		if (c == '%')
		{
			int			hi = i + 1 < n ? msi_hex_digit((unsigned char) v[i + 1]) : -1;
			int			lo = i + 2 < n ? msi_hex_digit((unsigned char) v[i + 2]) : -1;

			if (hi < 0 || lo < 0)
			{
				*why = "a '%' is not followed by two hexadecimal digits";
				return MSI_E_URL;
			}
			c = (unsigned char) ((hi << 4) | lo);
			i += 3;
		}
		else
		{
			/* printable ASCII only; '=' inside a value must be encoded too */
			if (c <= 0x20 || c >= 0x7f || c == '=' || c == '#' || c == '"' ||
				c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' ||
				c == '{' || c == '}' || c == '|')
			{
				*why = "a value holds a character that must be percent-encoded";
				return MSI_E_URL;
			}
			i++;
		}
		if (o >= cap)
		{
			*why = "a value is longer than mobisign accepts";
			return MSI_E_TOO_LARGE;
		}
		out[o++] = c;
	}
	*outlen = o;
	return MSI_OK;
}

static bool
name_is(const char *a, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(a, name, n) == 0;
}

static msi_rc
parse_type(const unsigned char *v, size_t n, msi_p11_type *t, const char **why)
{
	static const struct
	{
		const char *name;
		msi_p11_type type;
	}			types[] = {
		{"private", MSI_P11_TYPE_PRIVATE},
		{"public", MSI_P11_TYPE_PUBLIC},
		{"secret-key", MSI_P11_TYPE_SECRET_KEY},
		{"cert", MSI_P11_TYPE_CERT},
		{"data", MSI_P11_TYPE_DATA},
	};
	size_t		i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (name_is((const char *) v, n, types[i].name))
		{
			*t = types[i].type;
			return MSI_OK;
		}
	*why = "type must be private, public, secret-key, cert or data";
	return MSI_E_VALUE;
}

/*
 * A label (token, object): decoded into dst (cap bytes and a NUL), given
 * once, without a NUL of its own; its length into *len if wanted.
 */
static msi_rc
decode_label(const char *v, size_t vl, char *dst, size_t cap, bool *seen, size_t *len,
			 const char **why)
{
	size_t		dl = 0;
	msi_rc		rc;

	if (*seen)
	{
		*why = "an attribute is given twice";
		return MSI_E_URL;
	}
	rc = decode(v, vl, (unsigned char *) dst, cap, &dl, why);
	if (rc != MSI_OK)
		return rc;
	if (memchr(dst, '\0', dl) != NULL)
	{
		*why = "a label holds a NUL byte (%00)";
		return MSI_E_URL;
	}
	dst[dl] = '\0';
	if (len)
		*len = dl;
	*seen = true;
	return MSI_OK;
}

static msi_rc
parse_attr(const char *a, size_t n, msi_p11_uri *out, const char **why)
{
	const char *eq = memchr(a, '=', n);
	size_t		nl;
	const char *v;
	size_t		vl;
	unsigned char buf[MSI_P11_OBJECT_MAX];
	size_t		dl = 0;
	msi_rc		rc;

	if (n == 0)
	{
		*why = "an attribute is empty (two ';' in a row, or a ';' at the end)";
		return MSI_E_URL;
	}
	if (eq == NULL)
	{
		*why = "an attribute has no '='";
		return MSI_E_URL;
	}
	nl = (size_t) (eq - a);
	v = eq + 1;
	vl = n - nl - 1;
	if (vl == 0)
	{
		*why = "an attribute has an empty value";
		return MSI_E_URL;
	}
	if (name_is(a, nl, "token"))
		return decode_label(v, vl, out->token, MSI_P11_TOKEN_MAX, &out->has_token, NULL, why);
	else if (name_is(a, nl, "object"))
		return decode_label(v, vl, out->object, MSI_P11_OBJECT_MAX, &out->has_object,
							&out->object_len, why);
	else if (name_is(a, nl, "id"))
	{
		if (out->has_id)
			goto repeated;
		rc = decode(v, vl, out->id, MSI_P11_ID_MAX, &out->id_len, why);
		if (rc != MSI_OK)
			return rc;
		out->has_id = true;
	}
	else if (name_is(a, nl, "type"))
	{
		if (out->type != MSI_P11_TYPE_ANY)
			goto repeated;
		rc = decode(v, vl, buf, sizeof(buf), &dl, why);
		if (rc != MSI_OK)
			return rc;
		return parse_type(buf, dl, &out->type, why);
	}
	else
	{
		*why = "only the attributes token, object, id and type are supported";
		return MSI_E_VALUE;
	}
	return MSI_OK;

repeated:
	*why = "an attribute is given twice";
	return MSI_E_URL;
}

msi_rc
msi_p11_uri_parse(const char *s, size_t len, msi_p11_uri *out, const char **why)
{
	const char *dummy;
	size_t		i;
	size_t		start;
	msi_rc		rc = MSI_OK;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (out == NULL || (s == NULL && len > 0))
	{
		*why = "no URI";
		return MSI_E_ARG;
	}
	memset(out, 0, sizeof(*out));
	if (len > MSI_P11_URI_MAX)
	{
		*why = "the URI is longer than 1024 bytes";
		return MSI_E_TOO_LARGE;
	}
	if (len < sizeof(scheme) - 1 || strncasecmp(s, scheme, sizeof(scheme) - 1) != 0)
	{
		*why = "the URI does not start with pkcs11:";
		return MSI_E_URL_SCHEME;
	}
	for (i = sizeof(scheme) - 1; i < len; i++)
		if (s[i] == '?' || s[i] == '#')
		{
			*why = "a query or fragment (module, PIN) is not accepted: name the module in mobisign.pkcs11_module and the PIN in mobisign.pkcs11_pin_file";
			rc = MSI_E_VALUE;
			goto fail;
		}
	start = sizeof(scheme) - 1;
	if (start == len)
	{
		*why = "the URI names no object (object= or id=)";
		rc = MSI_E_VALUE;
		goto fail;
	}
	for (i = start; i <= len; i++)
	{
		if (i == len || s[i] == ';')
		{
			rc = parse_attr(s + start, i - start, out, why);
			if (rc != MSI_OK)
				goto fail;
			start = i + 1;
		}
	}
	if (!out->has_object && !out->has_id)
	{
		*why = "the URI names no object (object= or id=)";
		rc = MSI_E_VALUE;
		goto fail;
	}
	return MSI_OK;

fail:
	memset(out, 0, sizeof(*out));
	return rc;
}
