/*-------------------------------------------------------------------------
 *
 * cms_split.c
 *	  A CMS SignedData's certificates apart from the rest (see cms_split.h).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "cms_split.h"

/* one DER TLV: tag byte, header length, content length */
typedef struct tlv
{
	unsigned char tag;
	size_t		hdr;
	size_t		len;
} tlv;

/* Read the TLV at p (n bytes left): single-byte tag, definite length. */
static int
read_tlv(const unsigned char *p, size_t n, tlv *t)
{
	size_t		nlen;

	if (n < 2 || (p[0] & 0x1f) == 0x1f)
		return 0;
	t->tag = p[0];
	if (p[1] < 0x80)
	{
		t->hdr = 2;
		t->len = p[1];
	}
	else
	{
		nlen = p[1] & 0x7f;
		/* 0x80 is the indefinite length (BER); at most 4 length bytes */
		if (nlen == 0 || nlen > 4 || n < 2 + nlen)
			return 0;
		t->len = 0;
		for (size_t i = 0; i < nlen; i++)
			t->len = (t->len << 8) | p[2 + i];
		t->hdr = 2 + nlen;
	}
	return t->len <= n - t->hdr;
}

/* Write a TLV header (minimal DER length) at out; returns its size. */
static size_t
write_header(unsigned char *out, unsigned char tag, size_t len)
{
	size_t		n = 0;
	unsigned char lenbytes[4];
	size_t		nlen = 0;

	out[n++] = tag;
	if (len < 0x80)
	{
		out[n++] = (unsigned char) len;
		return n;
	}
	for (size_t v = len; v > 0 && nlen < 4; v >>= 8)
		lenbytes[nlen++] = (unsigned char) (v & 0xff);
	out[n++] = (unsigned char) (0x80 | nlen);
	while (nlen > 0)
		out[n++] = lenbytes[--nlen];
	return n;
}

/* the size of a header for content of len bytes */
static size_t
header_size(size_t len)
{
	size_t		nlen = 0;

	if (len < 0x80)
		return 2;
	for (size_t v = len; v > 0; v >>= 8)
		nlen++;
	return 2 + nlen;
}

msi_rc
msi_cms_split_certificates(const unsigned char *der, size_t len, unsigned char *out,
						   msi_cms_split *s)
{
	tlv			ci,
				oid,
				explicit0,
				sd,
				el;
	const unsigned char *p;
	const unsigned char *sd_end;
	const unsigned char *certs_at = NULL;
	size_t		certs_size = 0;
	size_t		sd_len,
				x_len,
				ci_len,
				n = 0;
	int			index = 0;

	if (der == NULL || out == NULL || s == NULL)
		return MSI_E_ARG;
	memset(s, 0, sizeof(*s));
	/* ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT } */
	if (!read_tlv(der, len, &ci) || ci.tag != 0x30 || ci.hdr + ci.len != len)
		return MSI_E_VALUE;
	p = der + ci.hdr;
	if (!read_tlv(p, ci.len, &oid) || oid.tag != 0x06)
		return MSI_E_VALUE;
	p += oid.hdr + oid.len;
	if (!read_tlv(p, ci.len - oid.hdr - oid.len, &explicit0) || explicit0.tag != 0xa0 ||
		oid.hdr + oid.len + explicit0.hdr + explicit0.len != ci.len)
		return MSI_E_VALUE;
	p += explicit0.hdr;
	if (!read_tlv(p, explicit0.len, &sd) || sd.tag != 0x30 || sd.hdr + sd.len != explicit0.len)
		return MSI_E_VALUE;
	p += sd.hdr;
	sd_end = p + sd.len;

	/*
	 * SignedData ::= SEQUENCE { version INTEGER, digestAlgorithms SET,
	 * encapContentInfo SEQUENCE, certificates [0] IMPLICIT OPTIONAL, crls [1]
	 * IMPLICIT OPTIONAL, signerInfos SET }
	 */
	while (p < sd_end)
	{
		static const unsigned char expected[] = {0x02, 0x31, 0x30};

		if (!read_tlv(p, (size_t) (sd_end - p), &el))
			return MSI_E_VALUE;
		if (index < 3 && el.tag != expected[index])
			return MSI_E_VALUE;
		if (index >= 3 && el.tag == 0xa0 && certs_at == NULL && index == 3)
		{
			const unsigned char *c = p + el.hdr;
			const unsigned char *c_end = c + el.len;

			while (c < c_end)
			{
				tlv			cert;

				if (!read_tlv(c, (size_t) (c_end - c), &cert) || cert.tag != 0x30 ||
					s->ncerts >= MSI_CMS_SPLIT_MAX_CERTS)
					return MSI_E_VALUE;
				s->certs[s->ncerts].data = c;
				s->certs[s->ncerts].len = cert.hdr + cert.len;
				s->ncerts++;
				c += cert.hdr + cert.len;
			}
			certs_at = p;
			certs_size = el.hdr + el.len;
		}
		else if (index >= 3 && el.tag != 0xa1 && el.tag != 0x31)
			return MSI_E_VALUE;
		p += el.hdr + el.len;
		index++;
	}
	if (index < 4 || el.tag != 0x31)
		return MSI_E_VALUE;		/* signerInfos must come last */
	if (certs_at == NULL)
		return MSI_E_VALUE;		/* nothing to split */

	/* the three enclosing lengths, without the certificates */
	sd_len = sd.len - certs_size;
	x_len = header_size(sd_len) + sd_len;
	ci_len = oid.hdr + oid.len + header_size(x_len) + x_len;
	if (header_size(ci_len) + ci_len > len)
		return MSI_E_VALUE;
	n += write_header(out + n, 0x30, ci_len);
	memcpy(out + n, der + ci.hdr, oid.hdr + oid.len);
	n += oid.hdr + oid.len;
	n += write_header(out + n, 0xa0, x_len);
	n += write_header(out + n, 0x30, sd_len);
	/* the elements before the certificates, then those after them */
	memcpy(out + n, der + ci.hdr + oid.hdr + oid.len + explicit0.hdr + sd.hdr,
		   (size_t) (certs_at - (der + ci.hdr + oid.hdr + oid.len + explicit0.hdr + sd.hdr)));
	n += (size_t) (certs_at - (der + ci.hdr + oid.hdr + oid.len + explicit0.hdr + sd.hdr));
	memcpy(out + n, certs_at + certs_size, (size_t) (sd_end - (certs_at + certs_size)));
	n += (size_t) (sd_end - (certs_at + certs_size));
	s->stripped_len = n;
	return MSI_OK;
}
