//! What a parsed statement does, as a set of [`Kind`]s, and which
//! [`StatementClass`]es those make.
//!
//! Classification looks through wrappers that run (or will run) another
//! statement: `PREPARE x AS <stmt>`, `EXPLAIN ANALYZE <stmt>`,
//! data-modifying CTEs (`WITH d AS (DELETE … RETURNING *) SELECT …`),
//! `INSERT … SELECT`, `CREATE TABLE … AS`, `COPY (<query>) TO`. A plain
//! `EXPLAIN` only plans and is not looked through.
//!
//! Not seen: what a procedure (`CALL`), a function or PL/pgSQL `EXECUTE`
//! does when it runs. Database privileges remain the real boundary.

use sqlparser::ast::{
    CopySource, Expr, ObjectType, Query, SetExpr, Statement, UtilityOption, Value,
};

use crate::config::StatementClass;

/// What statements do, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kinds(u32);

/// One thing a statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    Insert = 1,
    Update = 1 << 1,
    Delete = 1 << 2,
    Merge = 1 << 3,
    Truncate = 1 << 4,
    Drop = 1 << 5,
    Alter = 1 << 6,
    Create = 1 << 7,
    Grant = 1 << 8,
    Revoke = 1 << 9,
    /// `COPY` in either direction.
    Copy = 1 << 10,
    /// `COPY … FROM`: a write.
    CopyFrom = 1 << 11,
    DeleteWithoutWhere = 1 << 12,
    UpdateWithoutWhere = 1 << 13,
    Rename = 1 << 14,
    Comment = 1 << 15,
    /// Creating, altering or dropping a role or user.
    Role = 1 << 16,
    /// Other writes: `LOAD DATA`, `REFRESH MATERIALIZED VIEW`, Snowflake
    /// `COPY INTO`.
    OtherWrite = 1 << 17,
}

impl Kinds {
    pub fn add(&mut self, kind: Kind) {
        self.0 |= kind as u32;
    }

    pub fn union(self, other: Kinds) -> Kinds {
        Kinds(self.0 | other.0)
    }

    pub fn has(self, kind: Kind) -> bool {
        self.0 & kind as u32 != 0
    }

    /// Whether a statement of these kinds is in `class` (`all` is every
    /// statement, so it is decided before kinds are looked at).
    pub fn in_class(self, class: StatementClass) -> bool {
        self.0 & class_mask(class) != 0
    }
}

fn class_mask(class: StatementClass) -> u32 {
    use Kind as K;
    use StatementClass as C;
    let kinds: &[Kind] = match class {
        C::All => return u32::MAX,
        C::Ddl => &[
            K::Create,
            K::Alter,
            K::Drop,
            K::Truncate,
            K::Rename,
            K::Comment,
        ],
        C::DmlWrite => &[
            K::Insert,
            K::Update,
            K::Delete,
            K::Merge,
            K::Truncate,
            K::CopyFrom,
            K::OtherWrite,
        ],
        C::Dcl => &[K::Grant, K::Revoke, K::Role],
        C::Insert => &[K::Insert],
        C::Update => &[K::Update],
        C::Delete => &[K::Delete],
        C::Merge => &[K::Merge],
        C::Truncate => &[K::Truncate],
        C::Drop => &[K::Drop],
        C::Alter => &[K::Alter, K::Rename],
        C::Create => &[K::Create],
        C::Grant => &[K::Grant],
        C::Revoke => &[K::Revoke],
        C::Copy => &[K::Copy],
        C::DeleteWithoutWhere => &[K::DeleteWithoutWhere],
        C::UpdateWithoutWhere => &[K::UpdateWithoutWhere],
    };
    kinds.iter().fold(0, |mask, k| mask | *k as u32)
}

/// Keywords without one of which no statement of `class` exists, so a text
/// containing none of them (as raw text, any ASCII case) need not be
/// parsed. Statements are dispatched on keyword tokens, which are unquoted
/// words equal to the keyword; every wrapper looked through has its inner
/// statement's keyword too. `all` needs no parse at all.
pub fn trigger_keywords(class: StatementClass) -> &'static [&'static str] {
    use StatementClass as C;
    match class {
        C::All => &[],
        C::Ddl => &["create", "alter", "drop", "truncate", "rename", "comment"],
        C::DmlWrite => &[
            "insert", "replace", "update", "delete", "merge", "truncate", "copy", "load", "refresh",
        ],
        C::Dcl => &["grant", "revoke", "deny", "role", "user", "group"],
        C::Insert => &["insert", "replace"],
        C::Update | C::UpdateWithoutWhere => &["update"],
        C::Delete | C::DeleteWithoutWhere => &["delete"],
        C::Merge => &["merge"],
        C::Truncate => &["truncate"],
        C::Drop => &["drop"],
        C::Alter => &["alter", "rename"],
        C::Create => &["create"],
        C::Grant => &["grant", "deny"],
        C::Revoke => &["revoke"],
        C::Copy => &["copy"],
    }
}

/// What `statement` does, wrappers looked through.
pub fn classify(statement: &Statement) -> Kinds {
    let mut kinds = Kinds::default();
    Classifier { kinds: &mut kinds }.statement(statement);
    kinds
}

struct Classifier<'a> {
    kinds: &'a mut Kinds,
}

impl Classifier<'_> {
    fn add(&mut self, kind: Kind) {
        self.kinds.add(kind);
    }

    fn statement(&mut self, statement: &Statement) {
        use Kind as K;
        match statement {
            Statement::Insert(insert) => {
                self.add(K::Insert);
                if let Some(source) = &insert.source {
                    self.query(source);
                }
            }
            Statement::Update(update) => {
                self.add(K::Update);
                if !has_real_where(update.selection.as_ref()) {
                    self.add(K::UpdateWithoutWhere);
                }
            }
            Statement::Delete(delete) => {
                self.add(K::Delete);
                if !has_real_where(delete.selection.as_ref()) {
                    self.add(K::DeleteWithoutWhere);
                }
            }
            Statement::Merge(_) => self.add(K::Merge),
            Statement::Truncate(_) => {
                self.add(K::Truncate);
            }
            Statement::Copy { source, to, .. } => {
                self.add(K::Copy);
                if !to {
                    self.add(K::CopyFrom);
                }
                if let CopySource::Query(query) = source {
                    self.query(query);
                }
            }
            Statement::CopyIntoSnowflake { .. }
            | Statement::LoadData { .. }
            | Statement::RefreshMaterializedView(_) => self.add(K::OtherWrite),

            Statement::Drop { object_type, .. } => {
                self.add(K::Drop);
                if matches!(
                    object_type,
                    ObjectType::Role | ObjectType::User | ObjectType::Group
                ) {
                    self.add(K::Role);
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
            | Statement::DropTrigger(_) => self.add(K::Drop),

            Statement::AlterRole { .. } | Statement::AlterUser(_) => {
                self.add(K::Alter);
                self.add(K::Role);
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
            | Statement::AlterSession { .. } => self.add(K::Alter),
            Statement::AlterDefaultPrivileges(_) => {
                self.add(K::Alter);
                self.add(K::Grant);
            }
            Statement::RenameTable(_) => self.add(K::Rename),
            Statement::Comment { .. } => self.add(K::Comment),

            Statement::Grant(_) | Statement::GrantRole(_) | Statement::Deny(_) => {
                self.add(K::Grant)
            }
            Statement::Revoke(_) | Statement::RevokeRole(_) => self.add(K::Revoke),

            Statement::CreateRole(_) | Statement::CreateUser(_) => {
                self.add(K::Create);
                self.add(K::Role);
            }
            Statement::CreateTable(create) => {
                self.add(K::Create);
                if let Some(query) = &create.query {
                    self.query(query);
                }
            }
            Statement::CreateView(_)
            | Statement::CreateVirtualTable { .. }
            | Statement::CreateIndex(_)
            | Statement::CreateSecret { .. }
            | Statement::CreateServer(_)
            | Statement::CreateForeignTable(_)
            | Statement::CreateForeignDataWrapper(_)
            | Statement::CreateUserMapping(_)
            | Statement::CreatePolicy(_)
            | Statement::CreateRule(_)
            | Statement::CreateConnector(_)
            | Statement::CreateOperator(_)
            | Statement::CreateOperatorFamily(_)
            | Statement::CreateOperatorClass(_)
            | Statement::CreateTextSearch(_)
            | Statement::CreateAggregate(_)
            | Statement::CreateExtension(_)
            | Statement::CreateCollation(_)
            | Statement::CreateSchema { .. }
            | Statement::CreateDatabase { .. }
            | Statement::CreateFunction(_)
            | Statement::CreateTrigger(_)
            | Statement::CreateProcedure { .. }
            | Statement::CreateMacro { .. }
            | Statement::CreateStage { .. }
            | Statement::CreateFileFormat { .. }
            | Statement::CreateWarehouse(_)
            | Statement::CreateSequence { .. }
            | Statement::CreateDomain(_)
            | Statement::CreateType { .. } => self.add(K::Create),

            Statement::Prepare { statement, .. } => self.statement(statement),
            Statement::Explain {
                analyze,
                options,
                statement,
                ..
            } if *analyze || options.as_deref().is_some_and(analyze_option) => {
                self.statement(statement)
            }
            Statement::Query(query) => self.query(query),
            _ => {}
        }
    }

    /// Data-modifying statements hide in CTEs and set operations.
    fn query(&mut self, query: &Query) {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.query(&cte.query);
            }
        }
        self.set_expr(&query.body);
    }

    fn set_expr(&mut self, expr: &SetExpr) {
        match expr {
            SetExpr::Query(query) => self.query(query),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
            SetExpr::Insert(statement)
            | SetExpr::Update(statement)
            | SetExpr::Delete(statement)
            | SetExpr::Merge(statement) => self.statement(statement),
            _ => {}
        }
    }
}

/// Whether a `WHERE` clause restricts anything: absent, or made only of
/// constants (`1=1`, `true`, `$1`), counts as no `WHERE`.
fn has_real_where(selection: Option<&Expr>) -> bool {
    selection.is_some_and(|expr| !is_constant(expr))
}

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
        | Expr::IsNotNull(inner) => is_constant(inner),
        Expr::BinaryOp { left, right, .. } => is_constant(left) && is_constant(right),
        _ => false,
    }
}

/// Whether `EXPLAIN ( … )` options turn ANALYZE on (anything but an
/// explicit false value counts as on: ANALYZE runs the statement).
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
    use crate::tables::contains_ignore_ascii_case;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
    use sqlparser::parser::Parser;

    /// The classes (other than `all`) of the statements in `sql`; checks
    /// that each has one of its trigger keywords in the text.
    fn classes(sql: &str) -> Vec<&'static str> {
        classes_in(&PostgreSqlDialect {}, sql)
    }

    fn classes_in(dialect: &dyn sqlparser::dialect::Dialect, sql: &str) -> Vec<&'static str> {
        let kinds = Parser::parse_sql(dialect, sql)
            .unwrap()
            .iter()
            .fold(Kinds::default(), |k, s| k.union(classify(s)));
        let found: Vec<_> = StatementClass::ALL[1..]
            .iter()
            .filter(|c| kinds.in_class(**c))
            .copied()
            .collect();
        for class in &found {
            assert!(
                trigger_keywords(*class)
                    .iter()
                    .any(|k| contains_ignore_ascii_case(sql, k)),
                "{class} found in {sql:?} without its keywords"
            );
        }
        found.iter().map(|c| c.name()).collect()
    }

    #[test]
    fn dml() {
        assert_eq!(classes("select * from t"), Vec::<&str>::new());
        assert_eq!(classes("insert into t values (1)"), ["dml-write", "insert"]);
        assert_eq!(
            classes("update t set a = 1 where id = 2"),
            ["dml-write", "update"]
        );
        assert_eq!(
            classes("update t set a = 1"),
            ["dml-write", "update", "update-without-where"]
        );
        assert_eq!(
            classes("delete from t where 1 = 1"),
            ["dml-write", "delete", "delete-without-where"]
        );
        assert_eq!(
            classes("delete from t where id = $1"),
            ["dml-write", "delete"]
        );
        assert_eq!(
            classes("merge into t using s on t.id = s.id when matched then delete"),
            ["dml-write", "merge"]
        );
        assert_eq!(classes("copy t from stdin"), ["dml-write", "copy"]);
        assert_eq!(classes("copy t to stdout"), ["copy"]);
        assert_eq!(
            classes_in(&MySqlDialect {}, "replace into t values (1)"),
            ["dml-write", "insert"]
        );
    }

    #[test]
    fn ddl_and_dcl() {
        assert_eq!(classes("create table t (a int)"), ["ddl", "create"]);
        assert_eq!(classes("alter table t add column b int"), ["ddl", "alter"]);
        assert_eq!(classes("drop table t"), ["ddl", "drop"]);
        assert_eq!(classes("truncate t"), ["ddl", "dml-write", "truncate"]);
        assert_eq!(classes("comment on table t is 'x'"), ["ddl"]);
        assert_eq!(classes("grant select on t to bob"), ["dcl", "grant"]);
        assert_eq!(classes("revoke select on t from bob"), ["dcl", "revoke"]);
        assert_eq!(classes("create role bob"), ["ddl", "dcl", "create"]);
        assert_eq!(classes("drop user bob"), ["ddl", "dcl", "drop"]);
        assert_eq!(classes("create index i on t (a)"), ["ddl", "create"]);
    }

    #[test]
    fn wrappers_are_looked_through() {
        assert_eq!(
            classes("with d as (delete from t returning *) select * from d"),
            ["dml-write", "delete", "delete-without-where"]
        );
        assert_eq!(
            classes("explain analyze update t set a = 1 where id = 1"),
            ["dml-write", "update"]
        );
        assert_eq!(classes("explain update t set a = 1"), Vec::<&str>::new());
        assert_eq!(
            classes("prepare p as delete from t where id = $1"),
            ["dml-write", "delete"]
        );
        assert_eq!(
            classes("create table t2 as select * from t"),
            ["ddl", "create"]
        );
    }
}
