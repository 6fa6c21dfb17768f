//! Which [`StatementClass`]es a parsed statement belongs to.
//!
//! Classification looks through wrappers that run (or will run) another
//! statement: `PREPARE x AS <stmt>`, `EXPLAIN ANALYZE <stmt>` (also written
//! `EXPLAIN (ANALYZE) <stmt>`), data-modifying CTEs
//! (`WITH d AS (DELETE FROM t RETURNING *) SELECT …`), `INSERT … SELECT`,
//! `CREATE TABLE … AS`, `COPY (<query>) TO …`. A plain `EXPLAIN` does not
//! run its statement and is not looked through.
//!
//! A statement may belong to several classes (`DROP ROLE` is both `drop`
//! and `role-management`).

use sqlparser::ast::{
    AlterDefaultPrivilegesOperation, CopySource, CopyTarget, Expr, ObjectType, Query, SetExpr,
    Statement, UtilityOption, Value,
};

use crate::config::StatementClass;

/// One class a statement belongs to, and the wrapper it was found in
/// (`PREPARE`, `EXPLAIN ANALYZE`), for deny reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub class: StatementClass,
    pub via: Option<&'static str>,
}

/// The keywords without which no statement of `class` can be found by
/// [`classify`], as groups: a statement of the class has, for every group,
/// at least one of the group's keywords as a keyword token (any case).
///
/// Derived from the match in [`Classifier::statement`] and from how the
/// parser reaches each variant (statements are dispatched on keyword tokens,
/// which the tokenizer only makes of unquoted words equal to the keyword,
/// ASCII case aside):
///
/// * `drop`: `Statement::Drop*` come only from `DROP …`;
/// * `truncate`: `TRUNCATE`;
/// * `alter`: `Statement::Alter*` come only from `ALTER …`, `RenameTable`
///   from MySQL `RENAME TABLE`;
/// * `grant`: `GRANT`, MS SQL `DENY` (parsed in every dialect), and
///   `ALTER DEFAULT PRIVILEGES … GRANT` (which has `GRANT`);
/// * `revoke`: `REVOKE`, and `ALTER DEFAULT PRIVILEGES … REVOKE`;
/// * `delete-without-where` / `update-without-where`: `DELETE` / `UPDATE`,
///   as a statement or inside a CTE, `INSERT … SELECT`, `COPY (…)`,
///   `PREPARE … AS`, `EXPLAIN ANALYZE` (wrappers only look through to
///   another statement, which has its own keyword);
/// * `copy-program`: `COPY` and `PROGRAM`, both;
/// * `create-or-replace`: `CREATE` with `OR REPLACE` or `OR ALTER`;
/// * `role-management`: `CREATE`, `ALTER` or `DROP`, with `ROLE`, `USER`
///   or `GROUP`.
///
/// A class added to [`StatementClass`] must be added here (the match is
/// exhaustive); `tests::triggers_cover_every_classified_statement` checks
/// the table against statements of every class.
pub fn trigger_keywords(class: StatementClass) -> &'static [&'static [&'static str]] {
    use StatementClass as C;
    match class {
        C::Drop => &[&["drop"]],
        C::Truncate => &[&["truncate"]],
        C::Alter => &[&["alter", "rename"]],
        C::Grant => &[&["grant", "deny"]],
        C::Revoke => &[&["revoke"]],
        C::DeleteWithoutWhere => &[&["delete"]],
        C::UpdateWithoutWhere => &[&["update"]],
        C::CopyProgram => &[&["copy"], &["program"]],
        C::CreateOrReplace => &[&["create"], &["replace", "alter"]],
        C::RoleManagement => &[&["create", "alter", "drop"], &["role", "user", "group"]],
    }
}

/// Every class `statement` belongs to, outermost first.
pub fn classify(statement: &Statement) -> Vec<Finding> {
    let mut findings = Vec::new();
    Classifier {
        findings: &mut findings,
    }
    .statement(statement, None);
    findings
}

struct Classifier<'a> {
    findings: &'a mut Vec<Finding>,
}

impl Classifier<'_> {
    fn push(&mut self, class: StatementClass, via: Option<&'static str>) {
        self.findings.push(Finding { class, via });
    }

    fn statement(&mut self, statement: &Statement, via: Option<&'static str>) {
        use StatementClass as C;
        match statement {
            Statement::Drop { object_type, .. } => {
                self.push(C::Drop, via);
                if matches!(
                    object_type,
                    ObjectType::Role | ObjectType::User | ObjectType::Group
                ) {
                    self.push(C::RoleManagement, via);
                }
            }
            Statement::DropFunction(_)
            | Statement::DropDomain(_)
            | Statement::DropProcedure { .. }
            | Statement::DropSecret { .. }
            | Statement::DropPolicy(_)
            | Statement::DropRule(_)
            | Statement::DropConnector { .. }
            | Statement::DropExtension(_)
            | Statement::DropOperator(_)
            | Statement::DropOperatorFamily(_)
            | Statement::DropOperatorClass(_)
            | Statement::DropTrigger(_) => self.push(C::Drop, via),

            Statement::Truncate(_) => self.push(C::Truncate, via),

            Statement::AlterRole { .. } | Statement::AlterUser(_) => {
                self.push(C::Alter, via);
                self.push(C::RoleManagement, via);
            }
            Statement::AlterTable(_)
            | Statement::AlterSchema(_)
            | Statement::AlterIndex { .. }
            | Statement::AlterView(_)
            | Statement::AlterFunction(_)
            | Statement::AlterType(_)
            | Statement::AlterCollation(_)
            | Statement::AlterOperator(_)
            | Statement::AlterOperatorFamily(_)
            | Statement::AlterOperatorClass(_)
            | Statement::AlterTextSearch(_)
            | Statement::AlterPolicy(_)
            | Statement::AlterTrigger(_)
            | Statement::AlterConnector { .. }
            | Statement::AlterSession { .. }
            | Statement::RenameTable(_) => self.push(C::Alter, via),
            Statement::AlterDefaultPrivileges(alter) => {
                self.push(C::Alter, via);
                match alter.operation {
                    AlterDefaultPrivilegesOperation::Grant { .. } => self.push(C::Grant, via),
                    AlterDefaultPrivilegesOperation::Revoke { .. } => self.push(C::Revoke, via),
                }
            }

            Statement::Grant(_) | Statement::GrantRole(_) | Statement::Deny(_) => {
                self.push(C::Grant, via)
            }
            Statement::Revoke(_) | Statement::RevokeRole(_) => self.push(C::Revoke, via),

            Statement::CreateRole(_) | Statement::CreateUser(_) => {
                self.push(C::RoleManagement, via)
            }

            Statement::Delete(delete) if !has_real_where(delete.selection.as_ref()) => {
                self.push(C::DeleteWithoutWhere, via)
            }
            Statement::Update(update) if !has_real_where(update.selection.as_ref()) => {
                self.push(C::UpdateWithoutWhere, via)
            }

            Statement::Copy { source, target, .. } => {
                if matches!(target, CopyTarget::Program { .. }) {
                    self.push(C::CopyProgram, via);
                }
                if let CopySource::Query(query) = source {
                    self.query(query, via);
                }
            }

            Statement::Prepare { statement, .. } => self.statement(statement, Some("PREPARE")),
            Statement::Explain {
                analyze,
                options,
                statement,
                ..
            } if *analyze || options.as_deref().is_some_and(analyze_option) => {
                self.statement(statement, Some("EXPLAIN ANALYZE"))
            }

            Statement::Query(query) => self.query(query, via),
            Statement::Insert(insert) => {
                if let Some(source) = &insert.source {
                    self.query(source, via);
                }
            }
            Statement::CreateTable(create) => {
                if create.or_replace {
                    self.push(C::CreateOrReplace, via);
                }
                if let Some(query) = &create.query {
                    self.query(query, via);
                }
            }
            Statement::CreateView(create) if create.or_replace || create.or_alter => {
                self.push(C::CreateOrReplace, via)
            }
            Statement::CreateFunction(create) if create.or_replace || create.or_alter => {
                self.push(C::CreateOrReplace, via)
            }
            Statement::CreateTrigger(create) if create.or_replace || create.or_alter => {
                self.push(C::CreateOrReplace, via)
            }
            Statement::CreateAggregate(create) if create.or_replace => {
                self.push(C::CreateOrReplace, via)
            }
            Statement::CreateRule(create) if create.or_replace => {
                self.push(C::CreateOrReplace, via)
            }
            Statement::CreateProcedure { or_alter: true, .. }
            | Statement::CreateSchema {
                or_replace: true, ..
            }
            | Statement::CreateDatabase {
                or_replace: true, ..
            }
            | Statement::CreateMacro {
                or_replace: true, ..
            }
            | Statement::CreateSecret {
                or_replace: true, ..
            } => self.push(C::CreateOrReplace, via),

            _ => {}
        }
    }

    /// Data-modifying statements hide in CTEs and set operations.
    fn query(&mut self, query: &Query, via: Option<&'static str>) {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.query(&cte.query, via);
            }
        }
        self.set_expr(&query.body, via);
    }

    fn set_expr(&mut self, expr: &SetExpr, via: Option<&'static str>) {
        match expr {
            SetExpr::Query(query) => self.query(query, via),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, via);
                self.set_expr(right, via);
            }
            SetExpr::Insert(statement)
            | SetExpr::Update(statement)
            | SetExpr::Delete(statement)
            | SetExpr::Merge(statement) => self.statement(statement, via),
            _ => {}
        }
    }
}

/// Whether a `WHERE` clause restricts anything: absent, or made only of
/// constants (`1=1`, `true`, `NOT false`, `$1`), counts as no `WHERE`.
fn has_real_where(selection: Option<&Expr>) -> bool {
    selection.is_some_and(|expr| !is_constant(expr))
}

/// An expression of literals (and bound parameters) alone, whatever the
/// operators: its value is the same for every row.
fn is_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Value(_) | Expr::TypedString(_) => true,
        Expr::Nested(inner)
        | Expr::UnaryOp { expr: inner, .. }
        | Expr::Cast { expr: inner, .. }
        | Expr::IsTrue(inner)
        | Expr::IsNotTrue(inner)
        | Expr::IsFalse(inner)
        | Expr::IsNotFalse(inner)
        | Expr::IsNull(inner)
        | Expr::IsNotNull(inner)
        | Expr::IsUnknown(inner)
        | Expr::IsNotUnknown(inner) => is_constant(inner),
        Expr::BinaryOp { left, right, .. }
        | Expr::IsDistinctFrom(left, right)
        | Expr::IsNotDistinctFrom(left, right) => is_constant(left) && is_constant(right),
        _ => false,
    }
}

/// Whether `EXPLAIN ( … )` options turn ANALYZE on. Only an explicit
/// false value (`false`, `off`, `0`, `no`) turns it off; anything else
/// counts as on, since ANALYZE runs the statement.
fn analyze_option(options: &[UtilityOption]) -> bool {
    options
        .iter()
        .rfind(|option| option.name.value.eq_ignore_ascii_case("analyze"))
        .is_some_and(|option| !option.arg.as_ref().is_some_and(is_false))
}

fn is_false(expr: &Expr) -> bool {
    let word = match expr {
        Expr::Value(value) => match &value.value {
            Value::Boolean(b) => return !b,
            Value::Number(n, _) => n.as_str(),
            Value::SingleQuotedString(s) => s.as_str(),
            _ => return false,
        },
        Expr::Identifier(ident) => ident.value.as_str(),
        _ => return false,
    };
    ["false", "off", "0", "no"]
        .iter()
        .any(|f| word.eq_ignore_ascii_case(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect};
    use sqlparser::parser::Parser;

    /// The classes of the one statement in `sql`; also checks that every
    /// class found has its trigger keywords in the text.
    #[track_caller]
    fn classes_in(dialect: &dyn Dialect, sql: &str) -> Vec<StatementClass> {
        try_classes_in(dialect, sql).unwrap()
    }

    /// [`classes_in`], `Err` when `sql` does not parse in `dialect`.
    #[track_caller]
    fn try_classes_in(
        dialect: &dyn Dialect,
        sql: &str,
    ) -> Result<Vec<StatementClass>, sqlparser::parser::ParserError> {
        let statements = Parser::parse_sql(dialect, sql)?;
        assert_eq!(statements.len(), 1, "{sql}");
        let found: Vec<StatementClass> = classify(&statements[0])
            .into_iter()
            .map(|f| f.class)
            .collect();
        let text = sql.to_ascii_lowercase();
        for class in &found {
            for group in trigger_keywords(*class) {
                assert!(
                    group.iter().any(|k| text.contains(k)),
                    "{sql:?} is {class} without any of {group:?}"
                );
            }
        }
        Ok(found)
    }

    #[track_caller]
    fn classes(sql: &str) -> Vec<StatementClass> {
        classes_in(&PostgreSqlDialect {}, sql)
    }

    #[track_caller]
    fn mysql_classes(sql: &str) -> Vec<StatementClass> {
        classes_in(&MySqlDialect {}, sql)
    }

    use StatementClass as C;

    #[test]
    fn drops_of_every_kind() {
        for sql in [
            "drop table t",
            "DROP TABLE IF EXISTS a, b CASCADE",
            "drop index i",
            "drop view v",
            "drop materialized view v",
            "drop schema s cascade",
            "drop database d",
            "drop sequence s",
            "drop function f(int)",
            "drop trigger t on x",
            "drop extension e",
            "drop type t",
        ] {
            assert!(classes(sql).contains(&C::Drop), "{sql}");
        }
        assert_eq!(classes("drop role r"), [C::Drop, C::RoleManagement]);
        assert_eq!(classes("drop user u"), [C::Drop, C::RoleManagement]);
    }

    #[test]
    fn alter_grant_revoke_truncate() {
        assert_eq!(classes("alter table t add column c int"), [C::Alter]);
        assert_eq!(classes("alter table t drop column c"), [C::Alter]);
        assert_eq!(classes("alter index i rename to j"), [C::Alter]);
        assert_eq!(
            classes("alter role r superuser"),
            [C::Alter, C::RoleManagement]
        );
        assert_eq!(classes("grant select on t to bob"), [C::Grant]);
        assert_eq!(classes("grant admins to bob"), [C::Grant]);
        assert_eq!(classes("revoke select on t from bob"), [C::Revoke]);
        assert_eq!(classes("truncate t"), [C::Truncate]);
        assert_eq!(classes("truncate table a, b"), [C::Truncate]);
        assert_eq!(
            classes("alter default privileges in schema s grant select on tables to bob"),
            [C::Alter, C::Grant]
        );
        assert_eq!(mysql_classes("rename table a to b"), [C::Alter]);
    }

    #[test]
    fn delete_and_update_where() {
        assert_eq!(classes("delete from t"), [C::DeleteWithoutWhere]);
        assert_eq!(classes("delete from t where 1=1"), [C::DeleteWithoutWhere]);
        assert_eq!(classes("delete from t where true"), [C::DeleteWithoutWhere]);
        assert_eq!(
            classes("delete from t where (not false)"),
            [C::DeleteWithoutWhere]
        );
        assert_eq!(classes("delete from t where $1"), [C::DeleteWithoutWhere]);
        assert_eq!(classes("delete from t where id = 1"), [] as [C; 0]);
        assert_eq!(classes("delete from t where id = $1"), [] as [C; 0]);
        assert_eq!(
            classes("delete from t using u where t.id = u.id"),
            [] as [C; 0]
        );
        assert_eq!(classes("update t set a = 1"), [C::UpdateWithoutWhere]);
        assert_eq!(
            classes("update t set a = 1 where 'x' = 'x'"),
            [C::UpdateWithoutWhere]
        );
        assert_eq!(
            classes("update t set a = 1 where id in (1, 2)"),
            [] as [C; 0]
        );
        assert_eq!(
            classes("update t set a = 1 where exists (select 1 from u)"),
            [] as [C; 0]
        );
    }

    #[test]
    fn data_modifying_ctes_and_insert_select() {
        assert_eq!(
            classes("with d as (delete from t returning *) select * from d"),
            [C::DeleteWithoutWhere]
        );
        assert_eq!(
            classes("with u as (update t set a = 1 returning *) insert into log select * from u"),
            [C::UpdateWithoutWhere]
        );
        assert_eq!(
            classes("with d as (delete from t where id = 1 returning *) select * from d"),
            [] as [C; 0]
        );
    }

    #[test]
    fn wrappers_are_looked_through() {
        let statements =
            Parser::parse_sql(&PostgreSqlDialect {}, "prepare p as delete from t").unwrap();
        assert_eq!(
            classify(&statements[0]),
            [Finding {
                class: C::DeleteWithoutWhere,
                via: Some("PREPARE")
            }]
        );
        assert_eq!(
            classes("explain analyze delete from t"),
            [C::DeleteWithoutWhere]
        );
        assert_eq!(
            classes("explain (analyze) delete from t"),
            [C::DeleteWithoutWhere]
        );
        assert_eq!(
            classes("explain (analyze true, verbose) update t set a = 1"),
            [C::UpdateWithoutWhere]
        );
        assert_eq!(
            classes("explain (analyze on) delete from t"),
            [C::DeleteWithoutWhere]
        );
        // Plain EXPLAIN plans without running.
        assert_eq!(classes("explain delete from t"), [] as [C; 0]);
        assert_eq!(
            classes("explain (analyze false) delete from t"),
            [] as [C; 0]
        );
        assert_eq!(classes("explain (analyze off) delete from t"), [] as [C; 0]);
    }

    #[test]
    fn copy_program() {
        assert_eq!(
            classes("copy t to program 'gzip > /tmp/t.gz'"),
            [C::CopyProgram]
        );
        assert_eq!(
            classes("copy t from program 'curl http://x'"),
            [C::CopyProgram]
        );
        assert_eq!(classes("copy t to stdout"), [] as [C; 0]);
        assert_eq!(
            classes("copy (select * from t) to program 'cat'"),
            [C::CopyProgram]
        );
    }

    #[test]
    fn create_or_replace_and_roles() {
        assert_eq!(
            classes("create or replace view v as select 1"),
            [C::CreateOrReplace]
        );
        assert_eq!(
            classes("create or replace function f() returns int as $$ select 1 $$ language sql"),
            [C::CreateOrReplace]
        );
        assert_eq!(classes("create view v as select 1"), [] as [C; 0]);
        assert_eq!(classes("create table t (a int)"), [] as [C; 0]);
        assert_eq!(
            classes("create role r login superuser"),
            [C::RoleManagement]
        );
        assert_eq!(classes("create user u"), [C::RoleManagement]);
    }

    #[test]
    fn ordinary_statements_have_no_class() {
        for sql in [
            "select * from t",
            "select 'drop table x'",
            "insert into t values (1)",
            "insert into t select * from u",
            "begin",
            "commit",
            "set search_path = x",
            "show search_path",
            "create index i on t (a)",
        ] {
            assert_eq!(classes(sql), [] as [C; 0], "{sql}");
        }
    }

    #[test]
    fn triggers_cover_every_classified_statement() {
        // Statements of every class, in several spellings and dialects; each
        // is checked by `classes_in` against `trigger_keywords`.
        let cases: &[(&str, &[C])] = &[
            ("DROP TABLE t", &[C::Drop]),
            ("drop function f", &[C::Drop]),
            ("drop procedure p", &[C::Drop]),
            ("drop domain d", &[C::Drop]),
            ("drop policy p on t", &[C::Drop]),
            ("drop group g", &[C::Drop, C::RoleManagement]),
            ("drop user u", &[C::Drop, C::RoleManagement]),
            ("TRUNCATE t", &[C::Truncate]),
            ("alter view v rename to w", &[C::Alter]),
            ("alter schema s rename to t", &[C::Alter]),
            (
                "alter user u with superuser",
                &[C::Alter, C::RoleManagement],
            ),
            ("alter policy p on t rename to q", &[C::Alter]),
            (
                "alter default privileges revoke select on tables from bob",
                &[C::Alter, C::Revoke],
            ),
            ("deny select on t to bob", &[C::Grant]),
            ("grant select on t to bob", &[C::Grant]),
            ("revoke admins from bob", &[C::Revoke]),
            ("delete from t", &[C::DeleteWithoutWhere]),
            ("update t set a = 1", &[C::UpdateWithoutWhere]),
            ("insert into t select * from u union all select 1", &[]),
            (
                "create table t as with d as (delete from u returning *) select * from d",
                &[C::DeleteWithoutWhere],
            ),
            (
                "copy (with d as (delete from u returning *) select * from d) to stdout",
                &[C::DeleteWithoutWhere],
            ),
            ("prepare p as update t set a = 1", &[C::UpdateWithoutWhere]),
            ("explain analyze delete from t", &[C::DeleteWithoutWhere]),
            ("COPY t TO PROGRAM 'cat'", &[C::CopyProgram]),
            ("create or replace table t (a int)", &[C::CreateOrReplace]),
            (
                "create or replace view v as select 1",
                &[C::CreateOrReplace],
            ),
            ("create or alter view v as select 1", &[C::CreateOrReplace]),
            ("create role r", &[C::RoleManagement]),
            ("create user u", &[C::RoleManagement]),
            ("create group g", &[C::RoleManagement]),
            ("RENAME TABLE a TO b", &[C::Alter]),
            ("alter user u rename to v", &[C::Alter, C::RoleManagement]),
        ];
        let dialects: [&dyn Dialect; 3] =
            [&PostgreSqlDialect {}, &MySqlDialect {}, &GenericDialect];
        for (sql, expected) in cases {
            let mut parsed = 0;
            for dialect in dialects {
                if let Ok(found) = try_classes_in(dialect, sql) {
                    assert_eq!(found, *expected, "{sql} in {dialect:?}");
                    parsed += 1;
                }
            }
            assert!(parsed > 0, "{sql} parses in no dialect");
        }
        // Every class is covered above.
        for class in StatementClass::ALL {
            assert!(
                cases.iter().any(|(_, classes)| classes.contains(class)),
                "{class}"
            );
        }
    }
}
