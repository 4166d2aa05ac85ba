/*-------------------------------------------------------------------------
 *
 * audit_insert.c
 *	  One audit row through the executor's simple-insert path (see
 *	  audit_insert.h for its invariants).
 *
 * What an INSERT through SPI spends besides storing the row (planning
 * lookups, ExecutorStart with its ModifyTable node, and compiling the
 * table's CHECK constraint from its stored text on every statement) is
 * about half of an audit write, and every verification writes one.  This
 * path keeps the table's default and CHECK expressions compiled between
 * calls, and within a transaction the executor state too (range table,
 * result relation with its index information, slot: KeptTarget below);
 * each row opens and locks the table and its indexes again, as
 * ExecSimpleRelationInsert() callers do, and closes them after it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "audit_insert.h"

static const char *const given_names[MS_AUDIT_NCOLUMNS] = {
	"operation", "outcome", "detail", "transaction_id", "application"
};

/*
 * What is kept of the table between calls: which attributes the writer
 * gives, and the compiled defaults of the others, CHECK constraints and
 * partial-index predicates (in cxt).  Invalidation (of the table or one of
 * its indexes) only marks it stale: an expression may be
 * running when the invalidation arrives (nextval() takes a lock, which
 * reads the invalidation queue), so it is freed at the next call.
 */
typedef struct AuditShape
{
	Oid			relid;			/* InvalidOid: nothing kept */
	bool		stale;
	bool		direct;			/* false: the SQL INSERT is needed */
	AttrNumber	given[MS_AUDIT_NCOLUMNS];
	AttrNumber	id_attnum;
	int			ndefaults;
	AttrNumber *default_attnum;
	ExprState **default_expr;
	int			ncheck;
	ExprState **check_expr;
	Bitmapset  *inserted_cols;	/* for the privilege check */
	int			nindexes;		/* -1: not known yet */
	Oid		   *index_oid;		/* in ExecOpenIndices() order */
	ExprState **index_pred;		/* a partial index's predicate, or NULL */
	MemoryContext cxt;
} AuditShape;

static AuditShape shape;

static void kept_mark_stale(void);

/*
 * relcache callback: the table or one of its indexes changed.  The kept
 * target (below) was made from the same table and indexes (by OID, in the
 * same order), so it is stale too.
 */
static void
shape_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == shape.relid)
		shape.stale = true;
	for (int i = 0; i < shape.nindexes; i++)
		if (relid == shape.index_oid[i])
			shape.stale = true;
	if (shape.stale)
		kept_mark_stale();
}

/* Does this path do all that an INSERT into rel would do? */
static bool
direct_applies(Relation rel)
{
	TriggerDesc *t = rel->trigdesc;
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relispartition ||
		rel->rd_rel->relrowsecurity || (constr != NULL && constr->has_generated_stored))
		return false;
	return t == NULL ||
		!(t->trig_insert_before_row || t->trig_insert_after_row || t->trig_insert_instead_row ||
		  t->trig_insert_before_statement || t->trig_insert_after_statement ||
		  t->trig_insert_new_table);
}

static ExprState *
compile(Expr *expr)
{
	return ExecInitExpr(expression_planner(expr), NULL);
}

/* A new shape of rel, made in a context of its own (freed on error). */
static void
shape_build(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	AuditShape	s = {0};
	MemoryContext old;

	s.cxt = AllocSetContextCreate(CurrentMemoryContext, "mobisign audit insert",
								  ALLOCSET_SMALL_SIZES);
	s.nindexes = -1;
	old = MemoryContextSwitchTo(s.cxt);
	s.relid = RelationGetRelid(rel);
	s.direct = direct_applies(rel);
	s.default_attnum = palloc0(desc->natts * sizeof(AttrNumber));
	s.default_expr = palloc0(desc->natts * sizeof(ExprState *));
	for (int i = 0; s.direct && i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AttrNumber	attnum = i + 1;
		Node	   *def;
		int			k;

		if (att->attisdropped)
			continue;
		for (k = 0; k < MS_AUDIT_NCOLUMNS; k++)
			if (strcmp(NameStr(att->attname), given_names[k]) == 0)
				break;
		if (k < MS_AUDIT_NCOLUMNS)
		{
			s.given[k] = attnum;
			s.inserted_cols = bms_add_member(s.inserted_cols,
											 attnum - FirstLowInvalidHeapAttributeNumber);
			continue;
		}
		if (strcmp(NameStr(att->attname), "id") == 0 && att->atttypid == INT8OID)
			s.id_attnum = attnum;
		if ((def = build_column_default(rel, attnum)) != NULL)
		{
			s.default_attnum[s.ndefaults] = attnum;
			s.default_expr[s.ndefaults++] = compile((Expr *) def);
		}
	}
	for (int k = 0; k < MS_AUDIT_NCOLUMNS; k++)
		if (s.given[k] == InvalidAttrNumber)
			s.direct = false;
	if (s.id_attnum == InvalidAttrNumber)
		s.direct = false;
	s.ncheck = s.direct && constr != NULL ? constr->num_check : 0;
	s.check_expr = palloc0((s.ncheck + 1) * sizeof(ExprState *));
	for (int i = 0; i < s.ncheck; i++)
		s.check_expr[i] = compile(stringToNode(constr->check[i].ccbin));
	MemoryContextSwitchTo(old);
	MemoryContextSetParent(s.cxt, TopMemoryContext);
	if (shape.cxt != NULL)
		MemoryContextDelete(shape.cxt);
	shape = s;
}

/* The relation's indexes are all checked at once (none deferrable)? */
static bool
indexes_immediate(ResultRelInfo *rri)
{
	for (int i = 0; i < rri->ri_NumIndices; i++)
		if (!rri->ri_IndexRelationDescs[i]->rd_index->indimmediate)
			return false;
	return true;
}

/*
 * The compiled predicates of the partial indexes, which ExecInsertIndexTuples()
 * would compile (ExecPrepareQual): kept for the same indexes (by OID, in the
 * order ExecOpenIndices() opened them; a changed predicate is a new index).
 */
static void
index_predicates(ResultRelInfo *rri)
{
	bool		same = shape.nindexes == rri->ri_NumIndices;
	MemoryContext old;

	for (int i = 0; same && i < rri->ri_NumIndices; i++)
		same = shape.index_oid[i] == RelationGetRelid(rri->ri_IndexRelationDescs[i]);
	if (!same)
	{
		old = MemoryContextSwitchTo(shape.cxt);
		shape.index_oid = palloc0((rri->ri_NumIndices + 1) * sizeof(Oid));
		shape.index_pred = palloc0((rri->ri_NumIndices + 1) * sizeof(ExprState *));
		for (int i = 0; i < rri->ri_NumIndices; i++)
		{
			List	   *pred = rri->ri_IndexRelationInfo[i]->ii_Predicate;

			shape.index_oid[i] = RelationGetRelid(rri->ri_IndexRelationDescs[i]);
			if (pred != NIL)
				shape.index_pred[i] = ExecInitQual((List *) expression_planner((Expr *) pred), NULL);
		}
		shape.nindexes = rri->ri_NumIndices;
		MemoryContextSwitchTo(old);
	}
	for (int i = 0; i < rri->ri_NumIndices; i++)
		if (rri->ri_IndexRelationInfo[i]->ii_Predicate != NIL)
			rri->ri_IndexRelationInfo[i]->ii_PredicateState = shape.index_pred[i];
}

/*
 * The executor state of a write: the range table, the result relation with
 * its indexes open and the compiled expressions in place, and a slot.
 */
typedef struct AuditTarget
{
	EState	   *estate;
	List	   *rtable;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
} AuditTarget;

/*
 * The target kept from row to row within one transaction (see
 * audit_insert.h).  Between rows it holds no relation reference and no
 * resource-owner resource: each row opens the table and its indexes again
 * (a reference count and an already-held lock: cheap), checks they are the
 * same relcache entries, and closes them at its end, keeping the locks as
 * any writer does to the end of the transaction.  Its memory is a child of
 * TopTransactionContext.  It is dropped at the transaction's end, when a
 * subtransaction aborts (with any row that failed in it) and on a relcache
 * invalidation of the table or one of its indexes (DDL, in this session or,
 * once this transaction has finished with the table, another).
 */
typedef struct KeptTarget
{
	MemoryContext cxt;			/* NULL: none */
	bool		stale;			/* drop before the next row */
	Oid			relid;
	int			nindexes;
	Oid		   *index_oid;		/* the result relation's, in its order */
	AuditTarget t;
} KeptTarget;

static KeptTarget kept;
static bool writing = false;	/* a row is being written */
static SubTransactionId writing_subid;	/* ... in this subtransaction */

static void
kept_drop(void)
{
	if (kept.cxt != NULL)
		MemoryContextDelete(kept.cxt);
	memset(&kept, 0, sizeof(kept));
}

/* the shape's relcache callback found a change of the table or an index */
static void
kept_mark_stale(void)
{
	if (kept.cxt != NULL)
		kept.stale = true;
}

static void
kept_xact(XactEvent event, void *arg)
{
	/* TopTransactionContext, and kept's memory with it, goes away */
	memset(&kept, 0, sizeof(kept));
	writing = false;
}

static void
kept_subxact(SubXactEvent event, SubTransactionId mySubid,
			 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	if (writing && mySubid > writing_subid)
	{
		/*
		 * A subtransaction inside the row (a default's function) aborted:
		 * the row goes on with the target, dropped after it.
		 */
		kept.stale = true;
		return;
	}
	/* a row that was being written failed; the locks may be gone too */
	writing = false;
	kept_drop();
}

/* Open the executor state of a write into rel in the current context. */
static bool
target_open(AuditTarget *t, Relation rel, TupleDesc slotdesc)
{
	RangeTblEntry *rte;

	t->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	rte->insertedCols = bms_copy(shape.inserted_cols);
	t->rtable = list_make1(rte);
	ExecInitRangeTable(t->estate, t->rtable);
	t->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(t->rri, rel, 1, NULL, 0);
	ExecOpenIndices(t->rri, false);
	if (!indexes_immediate(t->rri))
		return false;
	index_predicates(t->rri);
	/* the compiled CHECK constraints, which ExecConstraints() would compile */
	if (shape.ncheck > 0)
	{
		t->rri->ri_ConstraintExprs = palloc(shape.ncheck * sizeof(ExprState *));
		memcpy(t->rri->ri_ConstraintExprs, shape.check_expr, shape.ncheck * sizeof(ExprState *));
	}
	t->slot = ExecInitExtraTupleSlot(t->estate, slotdesc, &TTSOpsVirtual);
	return true;
}

/* Close t's indexes (unlock: false keeps their locks to the transaction's end). */
static void
target_close_indexes(AuditTarget *t, bool unlock)
{
	for (int i = 0; i < t->rri->ri_NumIndices; i++)
		if (t->rri->ri_IndexRelationDescs[i] != NULL)
			index_close(t->rri->ri_IndexRelationDescs[i], unlock ? RowExclusiveLock : NoLock);
}

/*
 * The kept target for rel, made now or checked: the same table and the
 * same index relations as it was made with, each opened again for this
 * row.  false: nothing kept (the caller writes the row without it).
 */
static bool
kept_open(Relation rel)
{
	MemoryContext old;
	bool		ok;

	if (kept.cxt != NULL && (kept.stale || kept.relid != RelationGetRelid(rel) ||
							 kept.t.rri->ri_RelationDesc != rel))
		kept_drop();
	if (kept.cxt != NULL)
	{
		for (int i = 0; i < kept.nindexes; i++)
		{
			Relation	ix = index_open(kept.index_oid[i], RowExclusiveLock);

			if (ix != kept.t.rri->ri_IndexRelationDescs[i])
			{
				index_close(ix, NoLock);
				for (int j = 0; j < i; j++)
					index_close(kept.t.rri->ri_IndexRelationDescs[j], NoLock);
				kept_drop();
				return kept_open(rel);
			}
		}
		return true;
	}

	kept.cxt = AllocSetContextCreate(TopTransactionContext, "mobisign audit target",
									 ALLOCSET_SMALL_SIZES);
	kept.relid = RelationGetRelid(rel);
	old = MemoryContextSwitchTo(kept.cxt);
	/* a copy: a slot on the relcache's descriptor would pin it */
	ok = target_open(&kept.t, rel, CreateTupleDescCopy(RelationGetDescr(rel)));
	if (ok)
	{
		kept.nindexes = kept.t.rri->ri_NumIndices;
		kept.index_oid = palloc0((kept.nindexes + 1) * sizeof(Oid));
		for (int i = 0; i < kept.nindexes; i++)
			kept.index_oid[i] = RelationGetRelid(kept.t.rri->ri_IndexRelationDescs[i]);
	}
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		target_close_indexes(&kept.t, true);
		kept_drop();
	}
	return ok;
}

/* Write the row into t's table. */
static void
target_insert(AuditTarget *t, Relation rel, const Datum *values, const bool *nulls, int64 *id)
{
	EState	   *estate = t->estate;
	TupleTableSlot *slot = t->slot;
	ExprContext *econtext;
	bool		pushed = false;

	/* what the executor checks before an INSERT, at every row */
	PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");
	ExecCheckRTPerms(t->rtable, true);
	estate->es_output_cid = GetCurrentCommandId(true);

	/* the row: the given columns, then the table's defaults for the others */
	econtext = GetPerTupleExprContext(estate);
	ResetExprContext(econtext);
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, RelationGetDescr(rel)->natts * sizeof(bool));
	for (int k = 0; k < MS_AUDIT_NCOLUMNS; k++)
	{
		slot->tts_values[shape.given[k] - 1] = nulls[k] ? (Datum) 0 : values[k];
		slot->tts_isnull[shape.given[k] - 1] = nulls[k];
	}
	for (int i = 0; i < shape.ndefaults; i++)
	{
		AttrNumber	a = shape.default_attnum[i] - 1;

		slot->tts_values[a] = ExecEvalExpr(shape.default_expr[i], econtext, &slot->tts_isnull[a]);
	}
	ExecStoreVirtualTuple(slot);

	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	ExecSimpleRelationInsert(t->rri, estate, slot);
	if (pushed)
		PopActiveSnapshot();
	*id = slot->tts_isnull[shape.id_attnum - 1] ? 0 : DatumGetInt64(slot->tts_values[shape.id_attnum - 1]);
	ExecClearTuple(slot);
	ResetExprContext(econtext);
}

void
ms_audit_insert_init(void)
{
	CacheRegisterRelcacheCallback(shape_invalidate, (Datum) 0);
	RegisterXactCallback(kept_xact, NULL);
	RegisterSubXactCallback(kept_subxact, NULL);
}

bool
ms_audit_insert_direct(const Datum *values, const bool *nulls, int64 *id)
{
	Oid			relid;
	Relation	rel;
	AuditTarget local = {0};

	/* the kept target's table, unless something changed since its last row */
	if (kept.cxt != NULL && !kept.stale && !writing)
		relid = kept.relid;
	else
	{
		Oid			nsp = get_namespace_oid("mobisign", true);

		relid = OidIsValid(nsp) ? get_relname_relid("audit", nsp) : InvalidOid;
	}
	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, RowExclusiveLock);
	if (shape.relid != relid || shape.stale ||
		shape.ncheck != (shape.direct && rel->rd_att->constr ? rel->rd_att->constr->num_check : 0))
	{
		/*
		 * The row being written (if any) and the kept target use the
		 * shape's expressions: a row written meanwhile gets the SQL INSERT.
		 */
		if (writing)
		{
			table_close(rel, RowExclusiveLock);
			return false;
		}
		kept_drop();
		shape_build(rel);
	}
	if (!shape.direct)
	{
		table_close(rel, RowExclusiveLock);
		return false;
	}

	if (!writing)
	{
		/* the kept target: opened again for this row, closed after it */
		if (!kept_open(rel))
		{
			table_close(rel, RowExclusiveLock);
			return false;
		}
		writing = true;
		writing_subid = GetCurrentSubTransactionId();
		target_insert(&kept.t, rel, values, nulls, id);
		writing = false;
		target_close_indexes(&kept.t, false);
		table_close(rel, NoLock);
		if (kept.stale)
			kept_drop();
		return true;
	}

	/* a row written while another is (a default that writes one) */
	if (!target_open(&local, rel, RelationGetDescr(rel)))
	{
		target_close_indexes(&local, true);
		FreeExecutorState(local.estate);
		table_close(rel, RowExclusiveLock);
		return false;
	}
	target_insert(&local, rel, values, nulls, id);
	ExecCloseIndices(local.rri);
	ExecResetTupleTable(local.estate->es_tupleTable, false);
	FreeExecutorState(local.estate);
	table_close(rel, NoLock);
	return true;
}
