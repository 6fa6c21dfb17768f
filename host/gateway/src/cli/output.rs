//! What the CLI prints: aligned tables and `key: value` blocks for people,
//! the API's own JSON (pretty) for scripts (`--json`).
//!
//! Tables go to stdout with a header row and two spaces between columns;
//! cells are single-line (newlines and tabs become spaces) and long ones
//! (but the last column's) are cut with `…` so a row stays a row. Times are the API's Unix
//! milliseconds shown as UTC (`2026-01-31 14:05:09`). Messages meant for
//! people (hints, "created …") go to stderr so stdout stays parseable.

use serde_json::Value;

/// Widest a cell is shown in a table (JSON output is never cut).
const MAX_CELL: usize = 60;

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print the API's JSON instead of tables.
    pub json: bool,
}

impl Output {
    /// Print `value` as pretty JSON (the `--json` form).
    pub fn print_json(&self, value: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("a JSON value serializes")
        );
    }

    /// `--json`: the value; otherwise `human()`.
    pub fn show(&self, value: &Value, human: impl FnOnce(&Value)) {
        if self.json {
            self.print_json(value);
        } else {
            human(value);
        }
    }

    /// A message for people (stderr: stdout stays the data).
    pub fn note(&self, message: impl AsRef<str>) {
        eprintln!("{}", message.as_ref());
    }
}

/// A table being built.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row. Cells are made single-line; all but the last are cut at
    /// [`MAX_CELL`] characters (the last can run on without misaligning
    /// anything, so queries and descriptions show whole).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        let last = cells.len().saturating_sub(1);
        self.rows.push(
            cells
                .into_iter()
                .enumerate()
                .map(|(i, c)| clean(&c, i < last))
                .collect(),
        );
    }

    /// The table as text (one line per row, trailing spaces trimmed).
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w - width(cell)));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }
}

/// `key: value` lines with the values aligned.
pub fn print_fields(fields: &[(&str, String)]) {
    let w = fields.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    for (key, value) in fields {
        println!("{key}:{}{value}", " ".repeat(w - width(key) + 1));
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// One line; with `cut`, at most [`MAX_CELL`] characters.
fn clean(cell: &str, cut: bool) -> String {
    let one_line: String = cell
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cut && width(&one_line) > MAX_CELL {
        let cut: String = one_line.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// A field as text: strings bare, `null`/missing as `-`, lists joined by
/// `,`, objects as compact JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        Value::Object(map) if map.is_empty() => "-".into(),
        Value::Object(_) => value.to_string(),
    }
}

/// `value[key]` as text.
pub fn field(value: &Value, key: &str) -> String {
    text(value.get(key).unwrap_or(&Value::Null))
}

/// `value[key]`, a Unix-ms time, as UTC; `-` when null.
pub fn time_field(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_i64)
        .map(format_time)
        .unwrap_or_else(|| "-".into())
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Milliseconds as `850 ms`, `12.3 s`, `4m05s`, `2h10m`.
pub fn format_duration_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// Bytes as `812 B`, `6.6 MiB`.
pub fn format_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

/// The items of a list answer: a bare array, or a page's `items`.
pub fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        Value::Object(map) => map
            .get("items")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_and_stay_on_one_line() {
        let mut table = Table::new(&["NAME", "KIND", "DESCRIPTION"]);
        table.row(vec![
            "billing-db".into(),
            "postgres".into(),
            "two\nlines".into(),
        ]);
        table.row(vec!["x".into(), "tcp".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "NAME        KIND      DESCRIPTION\n\
             billing-db  postgres  two lines\n\
             x           tcp       -\n"
        );
        let mut long = Table::new(&["A", "B"]);
        long.row(vec!["é".repeat(100), "x".repeat(100)]);
        let line = long.render().lines().nth(1).unwrap().to_string();
        assert_eq!(line.chars().count(), MAX_CELL + 2 + 100);
        assert!(line.starts_with(&format!("{}…  x", "é".repeat(MAX_CELL - 1))));
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_767_225_600_000), "2026-01-01 00:00:00");
        assert_eq!(format_time(951_825_599_000), "2000-02-29 11:59:59");
        assert_eq!(format_time(-1000), "1969-12-31 23:59:59");
    }

    #[test]
    fn values_as_text() {
        assert_eq!(text(&json!(null)), "-");
        assert_eq!(text(&json!(["a", "b"])), "a,b");
        assert_eq!(text(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(text(&json!(true)), "yes");
        assert_eq!(field(&json!({"x": ""}), "x"), "-");
        assert_eq!(field(&json!({}), "x"), "-");
        assert_eq!(format_duration_ms(12), "12 ms");
        assert_eq!(format_duration_ms(61_000), "1m01s");
        assert_eq!(format_size(6_885_745), "6.6 MiB");
        assert_eq!(items(&json!({"items": [1], "next": null})).len(), 1);
    }
}
