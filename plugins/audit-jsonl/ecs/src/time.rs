//! UTC calendar arithmetic for Unix milliseconds: RFC 3339 timestamps and
//! `YYYY-MM-DD` day stamps, without a date library (plugins stay small).
//!
//! Days to civil dates use Howard Hinnant's `civil_from_days`, exact for
//! the proleptic Gregorian calendar over the whole `u64` millisecond range
//! the WIT `time` fields can carry (years past 9999 print with more digits).

/// `(year, month 1-12, day 1-31)` of the UTC day `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The UTC day number (days since 1970-01-01) of Unix milliseconds.
pub fn day_number(millis: u64) -> i64 {
    (millis / 86_400_000) as i64
}

/// `YYYY-MM-DD` of a UTC day number.
pub fn day_stamp(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 UTC with milliseconds: `2025-01-18T09:12:00.123Z`.
pub fn rfc3339_millis(millis: u64) -> String {
    let (y, mo, d) = civil_from_days(day_number(millis));
    let in_day = millis % 86_400_000;
    let (h, mi, s, ms) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_737_191_520_123),
            "2025-01-18T09:12:00.123Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(day_stamp(day_number(1_737_244_799_999)), "2025-01-18");
        assert_eq!(day_stamp(day_number(1_737_244_800_000)), "2025-01-19");
    }

    #[test]
    fn every_day_follows_the_previous() {
        let mut previous = civil_from_days(-1);
        for day in 0..200_000 {
            let (y, m, d) = civil_from_days(day);
            let (py, pm, pd) = previous;
            let next_day = (y, m) == (py, pm) && d == pd + 1;
            let next_month =
                d == 1 && ((y == py && m == pm + 1) || (y == py + 1 && m == 1 && pm == 12));
            assert!(next_day || next_month, "{previous:?} -> {:?}", (y, m, d));
            previous = (y, m, d);
        }
    }
}
