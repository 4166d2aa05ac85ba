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
 * calls and does the rest per row as ExecSimpleRelationInsert() callers do:
 * a fresh executor state, the table and its indexes opened and locked.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

static void
shape_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == shape.relid)
		shape.stale = true;
	for (int i = 0; i < shape.nindexes; i++)
		if (relid == shape.index_oid[i])
			shape.stale = true;
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

bool
ms_audit_insert_direct(const Datum *values, const bool *nulls, int64 *id)
{
	static bool registered = false;
	Oid			nsp = get_namespace_oid("mobisign", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("audit", nsp) : InvalidOid;
	Relation	rel;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	ExprContext *econtext;
	bool		pushed = false;

	if (!OidIsValid(relid))
		return false;
	if (!registered)
	{
		CacheRegisterRelcacheCallback(shape_invalidate, (Datum) 0);
		registered = true;
	}
	rel = table_open(relid, RowExclusiveLock);
	if (shape.relid != relid || shape.stale ||
		shape.ncheck != (shape.direct && rel->rd_att->constr ? rel->rd_att->constr->num_check : 0))
		shape_build(rel);
	if (!shape.direct)
	{
		table_close(rel, RowExclusiveLock);
		return false;
	}

	/* what the executor checks before an INSERT */
	PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");
	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	rte->insertedCols = bms_copy(shape.inserted_cols);
	ExecCheckRTPerms(list_make1(rte), true);
	ExecInitRangeTable(estate, list_make1(rte));
	estate->es_output_cid = GetCurrentCommandId(true);
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	if (!indexes_immediate(rri))
	{
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
		table_close(rel, RowExclusiveLock);
		return false;
	}
	index_predicates(rri);
	/* the compiled CHECK constraints, which ExecConstraints() would compile */
	if (shape.ncheck > 0)
	{
		rri->ri_ConstraintExprs = palloc(shape.ncheck * sizeof(ExprState *));
		memcpy(rri->ri_ConstraintExprs, shape.check_expr, shape.ncheck * sizeof(ExprState *));
	}

	/* the row: the given columns, then the table's defaults for the others */
	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, RelationGetDescr(rel)->natts * sizeof(bool));
	for (int k = 0; k < MS_AUDIT_NCOLUMNS; k++)
	{
		slot->tts_values[shape.given[k] - 1] = nulls[k] ? (Datum) 0 : values[k];
		slot->tts_isnull[shape.given[k] - 1] = nulls[k];
	}
	econtext = GetPerTupleExprContext(estate);
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
	ExecSimpleRelationInsert(rri, estate, slot);
	if (pushed)
		PopActiveSnapshot();
	*id = slot->tts_isnull[shape.id_attnum - 1] ? 0 : DatumGetInt64(slot->tts_values[shape.id_attnum - 1]);

	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	return true;
}
