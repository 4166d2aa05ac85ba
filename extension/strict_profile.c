/*-------------------------------------------------------------------------
 *
 * strict_profile.c
 *	  The 'strict' PKI profile's rules (see strict_profile.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/x509v3.h>

#include "lib/stringinfo.h"

#include "strict_profile.h"
#include "text_bytes.h"

typedef struct RuleText
{
	const char *section;
	const char *words;
} RuleText;

#define MS_STRICT_RULE_TEXT(id, section, words, applies) {section, words},
static const RuleText rule_text[MS_STRICT_NRULES] = {
	MS_STRICT_RULE_LIST(MS_STRICT_RULE_TEXT)
};
#undef MS_STRICT_RULE_TEXT

/* at most this many characters of a name from a certificate go into a reason */
#define MS_STRICT_SHOWN_MAX 80

/* a name from a certificate, quoted, printable ASCII, others as \xNN, bounded */
static void
append_shown(StringInfo buf, const unsigned char *s, int len)
{
	appendStringInfoChar(buf, '"');
	ms_append_shown(buf, (const char *) s, len > 0 ? len : 0, MS_STRICT_SHOWN_MAX);
	appendStringInfoChar(buf, '"');
}

/* "words[: value] (RFC 5280 section) (depth d: subject)" */
static char *
refusal(MsStrictRule rule, const char *value, int depth, X509 *x)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, rule_text[rule].words);
	if (value != NULL)
		appendStringInfo(&buf, ": %s", value);
	appendStringInfo(&buf, " (RFC 5280 %s) (depth %d: %s)", rule_text[rule].section, depth,
					 X509_NAME_entry_count(X509_get_subject_name(x)) > 0 ?
					 ms_name_text(X509_get_subject_name(x)) : "empty subject");
	return buf.data;
}

/*
 * Why s is not a domain name in preferred name syntax (RFC 1034 3.5 as
 * relaxed by RFC 1123 2.1: labels of letters, digits and hyphens, 1 to 63
 * characters, no hyphen first or last; at most 253 characters), or NULL.
 * With wildcard_ok the leftmost label may be exactly "*".
 */
static const char *
dns_syntax_error(const unsigned char *s, int len, bool wildcard_ok)
{
	int			label = 0;

	if (len == 0)
		return "empty";
	if (len > 253)
		return "longer than 253 characters";
	if (s[0] == '.')
		return "a leading period";
	if (s[len - 1] == '.')
		return "a trailing period";
	if (wildcard_ok && len >= 2 && s[0] == '*' && s[1] == '.')
	{
		s += 2;
		len -= 2;
	}
	for (int i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c == '.')
		{
			if (label == 0)
				return "an empty label";
			if (s[i - 1] == '-')
				return "a label ending in a hyphen";
			label = 0;
			continue;
		}
		if (c == '*')
			return "a wildcard";
		if (c == '_')
			return "an underscore";
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return "a character other than a letter, digit, hyphen or period";
		if (label == 0 && c == '-')
			return "a label starting with a hyphen";
		if (++label > 63)
			return "a label longer than 63 characters";
	}
	if (label == 0)
		return "an empty label";
	if (s[len - 1] == '-')
		return "a label ending in a hyphen";
	return NULL;
}

/* "\"value\" (why)" */
static char *
shown_why(const ASN1_STRING *v, const char *why)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_shown(&buf, ASN1_STRING_get0_data(v), ASN1_STRING_length(v));
	if (why != NULL)
		appendStringInfo(&buf, " (%s)", why);
	return buf.data;
}

/* the extension's position, or -1; *critical says whether it is critical */
static int
find_ext(X509 *x, int nid, bool *critical)
{
	int			idx = X509_get_ext_by_NID(x, nid, -1);

	*critical = idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, idx));
	return idx;
}

/* serial number: positive, at most 20 content octets (4.1.2.2) */
static int
check_serial(X509 *x)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	const unsigned char *d = ASN1_STRING_get0_data(sn);
	int			len = ASN1_STRING_length(sn);

	while (len > 0 && d[0] == 0)
	{
		d++;
		len--;
	}
	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER || len == 0)
		return MS_STRICT_SERIAL_NOT_POSITIVE;
	/* a positive INTEGER whose first octet has the high bit needs a leading zero octet */
	if (len + ((d[0] & 0x80) ? 1 : 0) > 20)
		return MS_STRICT_SERIAL_TOO_LONG;
	return -1;
}

/* the rules on one certificate's own fields and extensions (not the anchor) */
static int
check_certificate(MsScope *scope, X509 *x, GENERAL_NAMES *san, int depth, char **value)
{
	uint32_t	flags = X509_get_extension_flags(x);
	bool		is_ca = depth > 0 || (flags & EXFLAG_CA) != 0;
	bool		empty_subject = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
	bool		crit;
	int			rule;
	EXTENDED_KEY_USAGE *eku;

	if ((rule = check_serial(x)) >= 0)
		return rule;
	if (is_ca && empty_subject)
		return MS_STRICT_CA_EMPTY_SUBJECT;
	if (is_ca && (find_ext(x, NID_basic_constraints, &crit) < 0 || !crit))
		return MS_STRICT_CA_BASIC_CONSTRAINTS;
	if (is_ca && find_ext(x, NID_subject_key_identifier, &crit) < 0)
		return MS_STRICT_CA_NO_SUBJECT_KEY_ID;
	/* self-signed: its own key verifies its signature (4.2.1.1's one exception) */
	if (X509_get0_authority_key_id(x) == NULL && X509_self_signed(x, 1) != 1)
		return MS_STRICT_NO_AUTHORITY_KEY_ID;
	if ((flags & EXFLAG_KUSAGE) && (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) && !(flags & EXFLAG_CA))
		return MS_STRICT_KEY_CERT_SIGN_NOT_CA;
	eku = ms_scope_add(scope, X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL),
					   (MsFreeFn) EXTENDED_KEY_USAGE_free);
	if (eku != NULL && sk_ASN1_OBJECT_num(eku) == 0)
		return MS_STRICT_EMPTY_EXTENDED_KEY_USAGE;
	if (find_ext(x, NID_policy_constraints, &crit) >= 0 && !crit)
		return MS_STRICT_POLICY_CONSTRAINTS_NOT_CRITICAL;
	if (empty_subject && (find_ext(x, NID_subject_alt_name, &crit) < 0 || !crit))
		return MS_STRICT_EMPTY_SUBJECT_SAN;
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++)
	{
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		const char *why;

		if (gn->type != GEN_DNS)
			continue;
		why = dns_syntax_error(ASN1_STRING_get0_data(gn->d.dNSName),
							   ASN1_STRING_length(gn->d.dNSName), true);
		if (why != NULL)
		{
			*value = shown_why(gn->d.dNSName, why);
			return MS_STRICT_DNS_NAME_SYNTAX;
		}
	}
	if (find_ext(x, NID_name_constraints, &crit) >= 0 && !crit)
		return MS_STRICT_NAME_CONSTRAINTS_NOT_CRITICAL;
	return -1;
}

/* every dNSName subtree of x's nameConstraints is a domain name, or empty (all names) */
static int
check_dns_constraints(NAME_CONSTRAINTS *nc, char **value)
{
	STACK_OF(GENERAL_SUBTREE) *const sets[] = {nc->permittedSubtrees, nc->excludedSubtrees};

	for (int s = 0; s < 2; s++)
		for (int i = 0; sets[s] != NULL && i < sk_GENERAL_SUBTREE_num(sets[s]); i++)
		{
			GENERAL_NAME *base = sk_GENERAL_SUBTREE_value(sets[s], i)->base;
			const char *why;

			if (base->type != GEN_DNS || ASN1_STRING_length(base->d.dNSName) == 0)
				continue;
			why = dns_syntax_error(ASN1_STRING_get0_data(base->d.dNSName),
								   ASN1_STRING_length(base->d.dNSName), false);
			if (why != NULL)
			{
				*value = shown_why(base->d.dNSName, why);
				return MS_STRICT_DNS_CONSTRAINT_SYNTAX;
			}
		}
	return -1;
}

/*
 * Is the wildcard "*.D" (d, dlen: D) standing for a name of the excluded
 * subtree e?  It stands for every name one label left of D, so for e when e
 * is one label left of D.  (e equal to D or above it OpenSSL already finds:
 * "*.D" then ends in e.)
 */
static bool
wildcard_meets(const unsigned char *d, int dlen, const ASN1_STRING *e)
{
	const unsigned char *es = ASN1_STRING_get0_data(e);
	int			elen = ASN1_STRING_length(e);
	int			head = elen - dlen - 1;

	if (head < 1 || es[head] != '.' || pg_strncasecmp((const char *) es + head + 1, (const char *) d, dlen) != 0)
		return false;
	for (int i = 0; i < head; i++)
		if (es[i] == '.')
			return false;
	return true;
}

/* x's wildcard dNSNames against the excluded dNSName subtrees of nc */
static bool
wildcard_excluded(X509 *x, GENERAL_NAMES *san, NAME_CONSTRAINTS *nc, char **value)
{
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san); i++)
	{
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		const unsigned char *s;
		int			len;

		if (gn->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(gn->d.dNSName);
		len = ASN1_STRING_length(gn->d.dNSName);
		if (len < 3 || s[0] != '*' || s[1] != '.')
			continue;
		for (int j = 0; nc->excludedSubtrees != NULL && j < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); j++)
		{
			GENERAL_NAME *base = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, j)->base;

			if (base->type == GEN_DNS && wildcard_meets(s + 2, len - 2, base->d.dNSName))
			{
				StringInfoData buf;

				initStringInfo(&buf);
				append_shown(&buf, s, len);
				appendStringInfoString(&buf, " and excluded ");
				append_shown(&buf, ASN1_STRING_get0_data(base->d.dNSName),
							 ASN1_STRING_length(base->d.dNSName));
				*value = buf.data;
				return true;
			}
		}
	}
	return false;
}

bool
ms_strict_check(STACK_OF(X509) *chain, char **reason)
{
	MsScope    *scope = ms_scope_create();
	int			n = chain ? sk_X509_num(chain) : 0;
	NAME_CONSTRAINTS **ncs = palloc0(sizeof(NAME_CONSTRAINTS *) * Max(n, 1));
	GENERAL_NAMES **sans = palloc0(sizeof(GENERAL_NAMES *) * Max(n, 1));
	int			rule = -1;
	int			depth = 0;
	char	   *value = NULL;

	for (depth = 0; depth < n; depth++)
	{
		X509	   *x = sk_X509_value(chain, depth);

		ncs[depth] = ms_scope_add(scope, X509_get_ext_d2i(x, NID_name_constraints, NULL, NULL),
								  (MsFreeFn) NAME_CONSTRAINTS_free);
		sans[depth] = ms_scope_add(scope, X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL),
								   (MsFreeFn) GENERAL_NAMES_free);
		/* the anchor (last) is an input: only its name constraints matter, as OpenSSL applies them */
		if (depth < n - 1 && (rule = check_certificate(scope, x, sans[depth], depth, &value)) >= 0)
			break;
		if (ncs[depth] != NULL && (rule = check_dns_constraints(ncs[depth], &value)) >= 0)
			break;
	}
	/* name constraints apply to the certificates below, self-issued CAs aside (6.1.3 (b)) */
	for (int i = 0; rule < 0 && i < n - 1; i++)
	{
		if (i > 0 && (X509_get_extension_flags(sk_X509_value(chain, i)) & EXFLAG_SI))
			continue;
		for (int j = i + 1; j < n; j++)
			if (ncs[j] != NULL && wildcard_excluded(sk_X509_value(chain, i), sans[i], ncs[j], &value))
			{
				rule = MS_STRICT_WILDCARD_EXCLUDED;
				depth = i;
				break;
			}
	}
	if (rule >= 0)
		*reason = refusal(rule, value, depth, sk_X509_value(chain, depth));
	ms_scope_release(scope);
	pfree(ncs);
	pfree(sans);
	return rule < 0;
}

bool
ms_strict_valid_at_not_after(X509_STORE_CTX *ctx, int err, time_t at)
{
	X509	   *cur = X509_STORE_CTX_get_current_cert(ctx);
	ASN1_TIME  *t;
	int			cmp;

	if (err != X509_V_ERR_CERT_HAS_EXPIRED || cur == NULL || (t = ASN1_TIME_set(NULL, at)) == NULL)
		return false;
	cmp = ASN1_TIME_compare(X509_get0_notAfter(cur), t);
	ASN1_TIME_free(t);
	return cmp == 0;
}

bool
ms_strict_path_dependent(int err)
{
	switch (err)
	{
		case X509_V_ERR_PERMITTED_VIOLATION:
		case X509_V_ERR_EXCLUDED_VIOLATION:
		case X509_V_ERR_SUBTREE_MINMAX:
		case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
		case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
		case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
			return true;
		default:
			return false;
	}
}

static bool
in_stack(STACK_OF(X509) *sk, X509 *x)
{
	for (int i = 0; sk != NULL && i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), x) == 0)
			return true;
	return false;
}

/* another certificate in the pools with x's subject and key */
static bool
has_alternative(X509 *x, STACK_OF(X509) *const *pools, int npools)
{
	for (int p = 0; p < npools; p++)
		for (int i = 0; pools[p] != NULL && i < sk_X509_num(pools[p]); i++)
		{
			X509	   *y = sk_X509_value(pools[p], i);

			if (X509_cmp(x, y) != 0 &&
				X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(y)) == 0 &&
				EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(y)) == 1)
				return true;
		}
	return false;
}

bool
ms_strict_exclude_alternative(STACK_OF(X509) *chain, STACK_OF(X509) *const *pools, int npools,
							  STACK_OF(X509) *excluded)
{
	for (int i = 1; chain != NULL && i < sk_X509_num(chain) - 1; i++)
	{
		X509	   *x = sk_X509_value(chain, i);

		if (!in_stack(excluded, x) && has_alternative(x, pools, npools))
			return X509_add_cert(excluded, x, X509_ADD_FLAG_UP_REF) == 1;
	}
	return false;
}

STACK_OF(X509) *
ms_strict_without(MsScope *scope, STACK_OF(X509) *pool, STACK_OF(X509) *excluded)
{
	STACK_OF(X509) *out = ms_scope_x509_stack(scope, sk_X509_new_null());

	if (out == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (int i = 0; pool != NULL && i < sk_X509_num(pool); i++)
	{
		X509	   *x = sk_X509_value(pool, i);

		if (!in_stack(excluded, x) && !X509_add_cert(out, x, X509_ADD_FLAG_UP_REF))
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	return out;
}
