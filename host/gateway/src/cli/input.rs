//! Parsing what people type: durations (`90d`), points in time (`2h` ago
//! or Unix ms), JSON arguments (inline or `@file`), `key=value` pairs, and
//! secrets read from stdin (without echo on a terminal).
//!
//! Every parser returns a message naming the expected form; none echoes a
//! secret back.

use anyhow::{Context, bail};
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

/// `30s`, `15m`, `12h`, `90d`, `2w` (or bare seconds).
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; use e.g. 30m, 12h, 90d"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; use s, m, h, d or w"
            ));
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// A point in time as Unix ms: a duration ago (`2h`, `7d`) or Unix ms.
pub fn time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.len() >= 10 && text.chars().all(|c| c.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("{text:?} is not a Unix time in ms"));
    }
    let ago = duration(text).map_err(|_| {
        format!("{text:?} is not a time; use a duration ago (2h, 7d) or Unix milliseconds")
    })?;
    Ok(now_ms().saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX)))
}

pub use gatehouse::clock::now_ms;

/// A JSON argument: inline text, `@path` (a file) or `@-` (stdin).
pub fn json_arg(what: &str, text: &str) -> anyhow::Result<Value> {
    let source = match text.strip_prefix('@') {
        Some("-") => {
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)
                .with_context(|| format!("reading {what} from stdin"))?;
            buf
        }
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {what} from {path}"))?
        }
        None => text.to_string(),
    };
    serde_json::from_str(&source).with_context(|| {
        format!("{what} is not valid JSON (give it inline, as @file.json or @- for stdin)")
    })
}

/// A JSON object argument.
pub fn json_object(what: &str, text: &str) -> anyhow::Result<Value> {
    let value = json_arg(what, text)?;
    if !value.is_object() {
        bail!("{what} must be a JSON object ({{...}})");
    }
    Ok(value)
}

/// `key=value`.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// A secret from stdin: prompted without echo on a terminal, else the
/// first line of piped input. Surrounding whitespace is dropped.
pub fn secret_from_stdin(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        eprint!("{prompt}: ");
        let _ = std::io::stderr().flush();
        let line = read_line_without_echo()?;
        eprintln!();
        line
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("reading stdin")?;
        line
    };
    let secret = line.trim().to_string();
    if secret.is_empty() {
        bail!("nothing was read from stdin");
    }
    Ok(secret)
}

#[cfg(unix)]
fn read_line_without_echo() -> anyhow::Result<String> {
    use std::os::fd::AsRawFd;
    let fd = std::io::stdin().as_raw_fd();
    // SAFETY: `termios` is plain data; tcgetattr fills it on success.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is stdin, a terminal (checked by the caller).
    let got = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if got {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: as above; `quiet` is a valid termios derived from the current one.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if got {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    read.context("reading the terminal")?;
    Ok(line)
}

#[cfg(not(unix))]
fn read_line_without_echo() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the terminal")?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(duration("3600").unwrap(), Duration::from_secs(3600));
        assert!(duration("1y").unwrap_err().contains("unknown unit"));
        assert!(duration("soon").is_err());
        assert!(duration("99999999999999999999d").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(time("1767225600000").unwrap(), 1_767_225_600_000);
        let two_hours_ago = time("2h").unwrap();
        assert!((now_ms() - 7_200_000 - two_hours_ago).abs() < 5_000);
        assert!(time("yesterday").is_err());
    }

    #[test]
    fn json_and_pairs() {
        assert_eq!(json_object("config", r#"{"a": 1}"#).unwrap()["a"], 1);
        assert!(json_object("config", "[1]").is_err());
        let err = json_object("config", "{nope").unwrap_err();
        assert!(format!("{err:#}").contains("config is not valid JSON"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(&file, r#"{"deny": ["drop"]}"#).unwrap();
        let value = json_object("config", &format!("@{}", file.display())).unwrap();
        assert_eq!(value["deny"][0], "drop");
        assert_eq!(
            key_value("team=finance=x").unwrap(),
            ("team".into(), "finance=x".into())
        );
        assert!(key_value("=x").is_err());
        assert!(key_value("x").is_err());
    }
}
