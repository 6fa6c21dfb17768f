//! What a column's type can hold, decided once per column from its type
//! OID (PostgreSQL) or type name (other connection kinds).
//!
//! Numbers, booleans, dates and times, UUIDs, bytea, geometric and range
//! types cannot hold the entities this plugin detects in a way worth
//! scanning for (a card number stored as `bigint` is masked by a column
//! rule, not by guessing), so their columns are never scanned. Text-like
//! types are scanned and edited in place; JSON, XML and text arrays are
//! scanned and edited with their syntax kept valid; `inet`/`cidr` values
//! are addresses by definition. Types this table does not know (enums,
//! domains, `citext`, `hstore`, extension types, OID 0) are scanned as
//! text when sent as text; sent in binary, a hit in them masks the cell to
//! NULL because their encoding is unknown.

use gatehouse_sdk::ConnectionKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeClass {
    /// text, varchar, bpchar, name, unknown: bytes are UTF-8 text in both
    /// formats.
    Text,
    Json,
    /// Binary format: a version byte (1), then JSON text.
    Jsonb,
    Xml,
    /// Arrays of text-like types.
    TextArray,
    /// Arrays of other types that can hold addresses (`inet[]`, `cidr[]`).
    OtherArray,
    Inet,
    Int2,
    Int4,
    Int8,
    Uuid,
    Bytea,
    /// Types that hold no entity (numbers, dates, booleans …).
    NoEntities,
    /// Anything else.
    Unknown,
}

impl TypeClass {
    pub fn classify(kind: ConnectionKind, oid: u32, name: &str) -> TypeClass {
        match kind {
            ConnectionKind::Postgres => Self::postgres(oid),
            _ => Self::by_name(name),
        }
    }

    fn postgres(oid: u32) -> TypeClass {
        use TypeClass::*;
        match oid {
            25 | 1043 | 1042 | 19 | 705 => Text,
            114 => Json,
            3802 => Jsonb,
            142 => Xml,
            1009 | 1015 | 1014 | 1003 | 199 | 3807 | 143 => TextArray,
            1041 | 651 => OtherArray,
            869 | 650 => Inet,
            21 => Int2,
            23 => Int4,
            20 => Int8,
            2950 => Uuid,
            17 => Bytea,
            // bool, "char", regproc, oid, tid, xid, cid, float4/8, money,
            // macaddr(8), date/time types, bit, varbit, numeric, reg* types,
            // pg_lsn, geometric types, ranges, snapshots, xid8, aclitem.
            16 | 18 | 24 | 26 | 27 | 28 | 29 | 700 | 701 | 790 | 829 | 774 | 1082 | 1083 | 1114
            | 1184 | 1186 | 1266 | 1560 | 1562 | 1700 | 2202 | 2203 | 2204 | 2205 | 2206 | 3734
            | 3769 | 4089 | 4096 | 3220 | 600 | 601 | 602 | 603 | 604 | 628 | 718 | 3904 | 3906
            | 3908 | 3910 | 3912 | 3926 | 2970 | 5038 | 5069 | 1033 => NoEntities,
            // Arrays of the above.
            1000 | 1001 | 1002 | 1005 | 1007 | 1016 | 1021 | 1022 | 1028 | 1182 | 1183 | 1115
            | 1185 | 1187 | 1231 | 2951 | 1270 | 1561 | 1563 => NoEntities,
            _ => Unknown,
        }
    }

    /// MySQL and other kinds report type names; map the common ones.
    fn by_name(name: &str) -> TypeClass {
        use TypeClass::*;
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "text" | "varchar" | "char" | "tinytext" | "mediumtext" | "longtext" | "string"
            | "var_string" | "enum" | "set" => Text,
            "json" => Json,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "float"
            | "double" | "decimal" | "newdecimal" | "date" | "time" | "datetime" | "timestamp"
            | "year" | "bit" | "bool" | "boolean" => NoEntities,
            _ => Unknown,
        }
    }

    /// Whether values of this type can hold entities to scan for.
    pub fn scannable(self) -> bool {
        matches!(
            self,
            TypeClass::Text
                | TypeClass::Json
                | TypeClass::Jsonb
                | TypeClass::Xml
                | TypeClass::TextArray
                | TypeClass::OtherArray
                | TypeClass::Unknown
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_types() {
        let pg = |oid| TypeClass::classify(ConnectionKind::Postgres, oid, "");
        assert_eq!(pg(25), TypeClass::Text);
        assert_eq!(pg(3802), TypeClass::Jsonb);
        assert_eq!(pg(23), TypeClass::Int4);
        assert_eq!(pg(1184), TypeClass::NoEntities);
        assert_eq!(pg(2950), TypeClass::Uuid);
        assert_eq!(pg(16_385), TypeClass::Unknown);
        assert!(!pg(1700).scannable());
        assert!(pg(0).scannable());
    }

    #[test]
    fn other_kinds_go_by_name() {
        let my = |name| TypeClass::classify(ConnectionKind::Mysql, 253, name);
        assert_eq!(my("VARCHAR"), TypeClass::Text);
        assert_eq!(my("bigint"), TypeClass::NoEntities);
        assert_eq!(my("geometry"), TypeClass::Unknown);
    }
}
