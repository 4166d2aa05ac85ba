/*-------------------------------------------------------------------------
 *
 * msc.c
 *	  mobisign wire codecs: result codes and constant-time comparison.
 *
 *-------------------------------------------------------------------------
 */
#include "msc.h"

typedef struct msc_rc_desc
{
	msc_rc		rc;
	const char *name;
	const char *text;
} msc_rc_desc;

static const msc_rc_desc rc_descs[] = {
	{MSC_OK, "MSC_OK", "success"},
	{MSC_E_ARG, "MSC_E_ARG", "invalid argument"},
	{MSC_E_BUFFER, "MSC_E_BUFFER", "output buffer too small"},
	{MSC_E_LENGTH, "MSC_E_LENGTH", "bad length"},
	{MSC_E_CRYPTO, "MSC_E_CRYPTO", "cryptographic library failure"},
	{MSC_E_UTF8, "MSC_E_UTF8", "invalid utf-8"},
	{MSC_E_UNREPRESENTABLE, "MSC_E_UNREPRESENTABLE", "character cannot be displayed"},
	{MSC_E_TOO_LONG, "MSC_E_TOO_LONG", "display text exceeds the screen limit"},
	{MSC_E_UDH, "MSC_E_UDH", "malformed user data header"},
	{MSC_E_SEGMENTS, "MSC_E_SEGMENTS", "bad or incomplete set of segments"},
	{MSC_E_SPI, "MSC_E_SPI", "unsupported security parameters"},
	{MSC_E_TAR, "MSC_E_TAR", "unknown tar"},
	{MSC_E_CC, "MSC_E_CC", "cryptographic checksum mismatch"},
	{MSC_E_PADDING, "MSC_E_PADDING", "bad padding"},
	{MSC_E_UNSECURED, "MSC_E_UNSECURED", "unsecured response"},
	{MSC_E_TLV, "MSC_E_TLV", "malformed tlv"},
	{MSC_E_TAG_UNKNOWN, "MSC_E_TAG_UNKNOWN", "unknown tag"},
	{MSC_E_TAG_DUP, "MSC_E_TAG_DUP", "duplicate tag"},
	{MSC_E_TAG_MISSING, "MSC_E_TAG_MISSING", "missing mandatory tag"},
	{MSC_E_TAG_ORDER, "MSC_E_TAG_ORDER", "tags out of order"},
	{MSC_E_TRAILING, "MSC_E_TRAILING", "trailing bytes"},
	{MSC_E_VERSION, "MSC_E_VERSION", "unsupported version"},
	{MSC_E_VALUE, "MSC_E_VALUE", "invalid field value"},
	{MSC_E_CONTROL, "MSC_E_CONTROL", "control or format character"},
};

/* the table's entry for rc, or NULL */
static const msc_rc_desc *
rc_desc(msc_rc rc)
{
	size_t		i;

	for (i = 0; i < sizeof(rc_descs) / sizeof(rc_descs[0]); i++)
		if (rc_descs[i].rc == rc)
			return &rc_descs[i];
	return NULL;
}

const char *
msc_strerror(msc_rc rc)
{
	const msc_rc_desc *d = rc_desc(rc);

	return d ? d->text : "unknown error";
}

const char *
msc_rc_name(msc_rc rc)
{
	const msc_rc_desc *d = rc_desc(rc);

	return d ? d->name : "MSC_E_UNKNOWN";
}

int
msc_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t acc = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		acc |= (uint8_t) (a[i] ^ b[i]);
	return acc == 0;
}
