//! Names of PostgreSQL's built-in types by OID, so plugins see `int4` and
//! `text` rather than numbers. Types not listed (extensions, user types)
//! get an empty name; plugins still have the OID.

/// The name of a built-in type, or `""`.
pub fn type_name(oid: u32) -> &'static str {
    match oid {
        16 => "bool",
        17 => "bytea",
        18 => "char",
        19 => "name",
        20 => "int8",
        21 => "int2",
        23 => "int4",
        24 => "regproc",
        25 => "text",
        26 => "oid",
        114 => "json",
        142 => "xml",
        650 => "cidr",
        700 => "float4",
        701 => "float8",
        790 => "money",
        829 => "macaddr",
        869 => "inet",
        1000 => "_bool",
        1005 => "_int2",
        1007 => "_int4",
        1009 => "_text",
        1016 => "_int8",
        1042 => "bpchar",
        1043 => "varchar",
        1015 => "_varchar",
        1082 => "date",
        1083 => "time",
        1114 => "timestamp",
        1184 => "timestamptz",
        1186 => "interval",
        1266 => "timetz",
        1560 => "bit",
        1562 => "varbit",
        1700 => "numeric",
        2205 => "regclass",
        2950 => "uuid",
        3614 => "tsvector",
        3802 => "jsonb",
        _ => "",
    }
}
