/*
 * scope_stub.c
 *	  A malloc-backed MsScope (extension/ossl.h's interface, the part
 *	  extension/signer_verify.c uses) for testing signer_verify.c outside
 *	  the server: every object added is freed, with its own function, when
 *	  the scope is released.  No PostgreSQL memory context is involved.
 */
#include <stdlib.h>

#include <openssl/evp.h>

typedef void (*MsFreeFn) (void *obj);

typedef struct MsScope
{
	int			n;
	int			cap;
	void	  **objs;
	MsFreeFn   *fns;
} MsScope;

extern MsScope *ms_scope_create(void);
extern void ms_scope_release(MsScope *scope);
extern void *ms_scope_add(MsScope *scope, void *obj, MsFreeFn freefn);
extern EVP_MD_CTX *ms_scope_md_ctx(MsScope *scope, EVP_MD_CTX *ctx);

MsScope *
ms_scope_create(void)
{
	MsScope    *s = calloc(1, sizeof(MsScope));

	if (s == NULL)
		abort();
	return s;
}

void
ms_scope_release(MsScope *scope)
{
	if (scope == NULL)
		return;
	while (scope->n > 0)
	{
		scope->n--;
		scope->fns[scope->n] (scope->objs[scope->n]);
	}
	free(scope->objs);
	free(scope->fns);
	free(scope);
}

void *
ms_scope_add(MsScope *scope, void *obj, MsFreeFn freefn)
{
	if (obj == NULL)
		return NULL;
	if (scope->n == scope->cap)
	{
		scope->cap = scope->cap ? scope->cap * 2 : 8;
		scope->objs = realloc(scope->objs, sizeof(void *) * scope->cap);
		scope->fns = realloc(scope->fns, sizeof(MsFreeFn) * scope->cap);
		if (scope->objs == NULL || scope->fns == NULL)
			abort();
	}
	scope->objs[scope->n] = obj;
	scope->fns[scope->n] = freefn;
	scope->n++;
	return obj;
}

static void
free_md_ctx(void *p)
{
	EVP_MD_CTX_free((EVP_MD_CTX *) p);
}

EVP_MD_CTX *
ms_scope_md_ctx(MsScope *scope, EVP_MD_CTX *ctx)
{
	return ms_scope_add(scope, ctx, free_md_ctx);
}
