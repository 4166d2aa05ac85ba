/*-------------------------------------------------------------------------
 *
 * mobisign.c
 *	  Module entry point: _PG_init only calls each module's init function.
 *
 * Each concern lives in its own file with its own header; a module that has
 * GUCs defines them in its init function.  The prefix is reserved last.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "answer_pool.h"
#include "audit_insert.h"
#include "bgworker.h"
#include "dropdb.h"
#include "fetch.h"
#include "hsm.h"
#include "keystore.h"
#include "path_memo.h"
#include "policy.h"
#include "progress.h"
#include "refresher.h"
#include "restore.h"
#include "verify_cache.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	ms_fetch_init();
	ms_keystore_init();
	ms_hsm_init();
	ms_policy_init();
	ms_restore_init();
	ms_worker_init();
	ms_refresher_init();
	ms_answer_pool_init();
	ms_dropdb_init();
	ms_vcache_init();
	ms_path_memo_init();
	ms_audit_insert_init();
	ms_progress_init();

	MarkGUCPrefixReserved("mobisign");
}
