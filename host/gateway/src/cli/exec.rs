//! `gatehouse exec CONN -q SQL | -f FILE`: run SQL through the gateway on
//! the caller's behalf, through the connection's plugins exactly like a
//! native session (`POST /api/connections/{name}/exec`).
//!
//! Output: a table per result (default), the API's JSON (`--format json`
//! or the global `--json`), or CSV (`--format csv`: a header line, then
//! rows; NULL is an empty field and an empty string `""`; results are
//! separated by an empty line). A query held for review prints the review
//! id and exits with status 2; a database error exits 1 after the results
//! before it.

use super::Ctx;
use super::output::Table;
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::io::Read;

#[derive(Args)]
pub struct ExecArgs {
    /// The connection (`resource.role`).
    pub connection: String,
    /// The SQL to run.
    #[arg(long, short, conflicts_with = "file", required_unless_present = "file")]
    pub query: Option<String>,
    /// Read the SQL from a file (`-` for standard input).
    #[arg(long, short)]
    pub file: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Exit status of a query held for review.
pub const HELD_EXIT: i32 = 2;

fn sql_of(args: &ExecArgs) -> anyhow::Result<String> {
    if let Some(query) = &args.query {
        return Ok(query.clone());
    }
    let file = args.file.as_deref().expect("clap requires -q or -f");
    if file == "-" {
        let mut sql = String::new();
        std::io::stdin().read_to_string(&mut sql)?;
        Ok(sql)
    } else {
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("reading {file}: {e}"))
    }
}

fn cell_text(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn csv_field(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(text) if text.is_empty() => "\"\"".into(),
        Value::String(text) if text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') => {
            format!("\"{}\"", text.replace('"', "\"\""))
        }
        other => cell_text(other),
    }
}

/// Print an exec output (`ExecOutput` JSON) as tables or CSV.
pub fn print_output(output: &Value, format: Format) {
    let results = output["results"].as_array().cloned().unwrap_or_default();
    for (index, result) in results.iter().enumerate() {
        let columns: Vec<String> = result["columns"]
            .as_array()
            .map(|c| c.iter().map(|c| cell_text(&c["name"])).collect())
            .unwrap_or_default();
        let rows = result["rows"].as_array().cloned().unwrap_or_default();
        if index > 0 {
            println!();
        }
        match format {
            Format::Csv => {
                if !columns.is_empty() {
                    let header: Vec<String> = columns
                        .iter()
                        .map(|c| csv_field(&Value::String(c.clone())))
                        .collect();
                    println!("{}", header.join(","));
                }
                for row in &rows {
                    let cells: Vec<String> = row
                        .as_array()
                        .map(|r| r.iter().map(csv_field).collect())
                        .unwrap_or_default();
                    println!("{}", cells.join(","));
                }
            }
            Format::Table | Format::Json => {
                if !columns.is_empty() {
                    let headers: Vec<&str> = columns.iter().map(String::as_str).collect();
                    let mut table = Table::new(&headers);
                    for row in &rows {
                        table.row(
                            row.as_array()
                                .map(|r| r.iter().map(cell_text).collect())
                                .unwrap_or_default(),
                        );
                    }
                    table.print();
                }
                if let Some(tag) = result["command_tag"].as_str() {
                    println!("{tag}");
                }
            }
        }
    }
    if output["truncated"].as_bool() == Some(true) {
        eprintln!("(rows past the gateway's exec limit were not kept)");
    }
    if let Some(error) = output["error"].as_object() {
        eprintln!(
            "error: {} ({})",
            error.get("message").map(cell_text).unwrap_or_default(),
            error.get("code").map(cell_text).unwrap_or_default()
        );
    }
}

pub async fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<()> {
    let sql = sql_of(&args)?;
    let api = ctx.client()?;
    let answer = api
        .post(
            &["api", "connections", &args.connection, "exec"],
            &serde_json::json!({ "sql": sql }),
        )
        .await?;
    if let Some(review) = answer.get("review") {
        if args.format == Format::Json {
            ctx.out.print_json(&answer);
        } else {
            eprintln!(
                "{}\nreview: {} (gatehouse reviews result {} once approved)",
                cell_text(&answer["message"]),
                cell_text(&review["id"]),
                cell_text(&review["id"])
            );
        }
        std::process::exit(HELD_EXIT);
    }
    if args.format == Format::Json {
        ctx.out.print_json(&answer);
    } else {
        ctx.out
            .show(&answer, |output| print_output(output, args.format));
    }
    if !answer["error"].is_null() {
        std::process::exit(1);
    }
    Ok(())
}
