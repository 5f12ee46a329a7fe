//! `schedule`: when a scheduled oneshot runs. Five-field cron expressions
//! (lists, ranges, steps, month and weekday names, `@hourly` ...) in the
//! local time of podinit's `TZ`, or `@every DURATION`.
//!
//! Daylight saving, the rule (README of docs/configuration.md): a cron time
//! is a local wall-clock time and runs at most once per local day and time.
//! A time that does not exist (the hour skipped in spring) runs once, at
//! the first moment after the gap (02:30 → 03:00); a time that happens
//! twice (the hour repeated in autumn) runs once, at its first occurrence —
//! except for jobs whose hour field is `*`, which run by the clock in the
//! repeated hour too (as every hour is theirs).
//!
//! Pure: the UTC offset at an instant is asked of a [`Zone`].

use std::time::Duration;

/// The offset from UTC, in seconds, of local time at a UTC instant (Unix
/// seconds). The runtime's comes from the C library's zone files.
pub type Zone = fn(i64) -> i32;

/// UTC, for tests and for a system without zone files.
pub fn utc(_: i64) -> i32 {
    0
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    Cron(Cron),
    /// `@every D`: D after podinit starts (or the config that adds it),
    /// then D after each due time.
    Every(Duration),
}

/// A parsed five-field expression: each field as a bit set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    /// As written (a macro such as `@daily` stays one).
    pub text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Both day fields restricted: either may match (as Vixie cron does).
    day_or: bool,
    /// The hour field is `*`: runs in a repeated hour too.
    every_hour: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: &DAYS,
    },
];

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let t = text.trim();
        if let Some(d) = t.strip_prefix("@every") {
            let d = super::units::parse_duration(d.trim()).map_err(|e| format!("@every: {e}"))?;
            if d < Duration::from_secs(1) {
                return Err(format!("{t:?}: the shortest interval is 1s"));
            }
            return Ok(Schedule::Every(d));
        }
        let expr = match t {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            _ if t.starts_with('@') => {
                return Err(format!(
                    "unknown {t:?}; expected @hourly, @daily, @weekly, @monthly, @yearly or @every DURATION"
                ));
            }
            _ => t,
        };
        let mut c = Cron::parse(expr)?;
        c.text = t.to_string();
        Ok(Schedule::Cron(c))
    }

    /// As `check` shows it.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron(c) => format!("{:?}", c.text),
            Schedule::Every(d) => format!("\"@every {}\"", super::units::format_duration(*d)),
        }
    }
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "{expr:?} has {} fields; a cron expression has five: minute hour day-of-month month day-of-week, as in \"*/5 * * * *\"",
                parts.len()
            ));
        }
        let mut sets = [0u64; 5];
        for (i, (part, f)) in parts.iter().zip(&FIELDS).enumerate() {
            sets[i] = field(part, f)?;
        }
        // Sunday is 0 and 7.
        let weekdays = ((sets[4] | (sets[4] >> 7)) & 0x7f) as u8;
        Ok(Cron {
            text: expr.to_string(),
            minutes: sets[0],
            hours: sets[1] as u32,
            days: sets[2] as u32,
            months: sets[3] as u16,
            weekdays,
            day_or: !parts[2].starts_with('*') && !parts[4].starts_with('*'),
            every_hour: parts[1] == "*",
        })
    }

    /// Whether some day of the year can match (`0 0 30 2 *` never does):
    /// a day of the month that one of its months has (February: 29).
    pub fn can_fire(&self) -> bool {
        const DAYS_IN: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        self.day_or
            || (1..=12).any(|m| {
                let upto = ((1u64 << (DAYS_IN[m - 1] + 1)) - 2) as u32; // days 1..=n
                self.months & (1 << m) != 0 && self.days & upto != 0
            })
    }

    /// Whether a local civil date and time matches.
    fn matches_day(&self, c: &Civil) -> bool {
        if self.months & (1 << c.month) == 0 {
            return false;
        }
        let dom = self.days & (1 << c.day) != 0;
        let dow = self.weekdays & (1 << c.weekday) != 0;
        if self.day_or { dom || dow } else { dom && dow }
    }

    /// The first instant after `t` (Unix seconds) at which this runs, in
    /// `zone`'s local time; None if none within eight years (`0 0 30 2 *`).
    pub fn next_after(&self, t: i64, zone: Zone) -> Option<i64> {
        // Local minutes are walked from three hours before local(t), so
        // that an instant of a repeated hour is not missed; the earliest
        // instant after t wins.
        let start = (t + zone(t) as i64).div_euclid(60) * 60 - 3 * 3600;
        let limit = start + 8 * 366 * 86400;
        let mut m = start;
        let mut best: Option<i64> = None;
        while m < limit {
            if best.is_some_and(|b| m - 6 * 3600 > b + zone(b) as i64) {
                break; // no later local minute can resolve before `best`
            }
            let c = Civil::of(m);
            if !self.matches_day(&c) {
                m = (m.div_euclid(86400) + 1) * 86400; // next day
                continue;
            }
            if self.hours & (1 << c.hour) == 0 {
                m = (m.div_euclid(3600) + 1) * 3600; // next hour
                continue;
            }
            if self.minutes & (1 << c.minute) != 0 {
                for u in instants(m, zone, self.every_hour) {
                    if u > t && best.is_none_or(|b| u < b) {
                        best = Some(u);
                    }
                }
            }
            m += 60;
        }
        best
    }
}

/// The UTC instants of local time `m` (seconds, as if local were UTC): one;
/// two in a repeated hour (only the first unless `both`); in a skipped
/// hour, the first moment after the gap.
fn instants(m: i64, zone: Zone, both: bool) -> Vec<i64> {
    let before = zone(m - 86400) as i64;
    let after = zone(m + 86400) as i64;
    let mut out: Vec<i64> = [before, after]
        .iter()
        .map(|o| m - o)
        .filter(|&u| zone(u) as i64 == m - u)
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        // Skipped: the transition lies between m - after and m - before.
        let (mut lo, mut hi) = ((m - after).min(m - before), (m - after).max(m - before));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if zone(mid) == zone(hi) {
                hi = mid
            } else {
                lo = mid
            }
        }
        out.push(hi);
    } else if !both {
        out.truncate(1);
    }
    out
}

/// One field as a bit set of the values it allows.
fn field(part: &str, f: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for item in part.split(',') {
        let bad = |why: &str| format!("{} field {item:?}: {why}", f.name);
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s.parse().map_err(|_| bad("the step must be a number"))?;
                if s == 0 {
                    return Err(bad("the step must be at least 1"));
                }
                (r, s)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (f.min, f.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, f).map_err(|e| bad(&e))?,
                value(b, f).map_err(|e| bad(&e))?,
            )
        } else {
            let v = value(range, f).map_err(|e| bad(&e))?;
            // `5/15` means from 5 to the end, every 15.
            (v, if item.contains('/') { f.max } else { v })
        };
        if lo > hi {
            return Err(bad("a range must go upwards"));
        }
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn value(text: &str, f: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = f.names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + f.min);
    }
    let v: u32 = text.parse().map_err(|_| {
        if f.names.is_empty() {
            format!("{text:?} is not a number")
        } else {
            format!(
                "{text:?} is not a number or a name ({})",
                f.names.join(", ")
            )
        }
    })?;
    if v < f.min || v > f.max {
        return Err(format!("{v} is out of range {}-{}", f.min, f.max));
    }
    Ok(v)
}

/// A civil date and time (proleptic Gregorian) of a count of seconds.
#[derive(Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

impl Civil {
    pub fn of(secs: i64) -> Civil {
        let days = secs.div_euclid(86400);
        let rem = secs.rem_euclid(86400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS +HHMM` of an instant in `zone`.
pub fn format_local(t: i64, zone: Zone) -> String {
    let off = zone(t);
    let local = t + off as i64;
    let c = Civil::of(local);
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.unsigned_abs();
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        local.rem_euclid(60),
        off / 3600,
        off % 3600 / 60
    )
}

/// Which local time cron times follow, for `check`: `TZ` (a zone file
/// name, a path, or a POSIX rule), else `/etc/localtime`, else UTC. The C
/// library falls back to UTC for a `TZ` it cannot find, so that is said.
pub fn zone_source(env: super::EnvLookup) -> String {
    let exists = |p: &str| std::path::Path::new(p).exists();
    let Some(tz) = env("TZ").filter(|t| !t.is_empty()) else {
        return if exists("/etc/localtime") {
            "local time of /etc/localtime (TZ is not set)".into()
        } else {
            "UTC (TZ is not set and there is no /etc/localtime)".into()
        };
    };
    let name = tz.strip_prefix(':').unwrap_or(&tz);
    let dir = env("TZDIR").unwrap_or_else(|| "/usr/share/zoneinfo".into());
    let file = if name.starts_with('/') {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    };
    if exists(&file) {
        format!("TZ={tz} ({file})")
    } else if name.chars().any(|c| c.is_ascii_digit()) {
        format!("TZ={tz} (a POSIX TZ rule)")
    } else {
        format!("UTC: TZ={tz} names no zone file ({file} is missing; install tzdata)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(e: &str) -> Cron {
        match Schedule::parse(e).unwrap_or_else(|err| panic!("{e}: {err}")) {
            Schedule::Cron(c) => c,
            Schedule::Every(_) => panic!("{e} is not cron"),
        }
    }

    /// Unix seconds of a UTC civil time.
    fn at(y: i64, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        // days_from_civil (Hinnant).
        let y = if mo <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (mo as i64 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) * 86400 + h as i64 * 3600 + mi as i64 * 60
    }

    /// New York in 2026: EDT (-4) from 2026-03-08 07:00Z to 2026-11-01
    /// 06:00Z, EST (-5) otherwise.
    fn new_york(t: i64) -> i32 {
        if (at(2026, 3, 8, 7, 0)..at(2026, 11, 1, 6, 0)).contains(&t) {
            -4 * 3600
        } else {
            -5 * 3600
        }
    }

    #[test]
    fn fields_lists_ranges_steps_names_and_macros() {
        let c = cron("*/15 9-17 * jan,JUL-aug mon-fri");
        assert_eq!(c.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(c.hours, (9..=17).map(|h| 1u32 << h).sum::<u32>());
        assert_eq!(c.months, 1 << 1 | 1 << 7 | 1 << 8);
        assert_eq!(c.weekdays, 0b0111110);
        assert_eq!(cron("0 0 * * 7").weekdays, 1, "7 is Sunday too");
        assert_eq!(cron("5/20 * * * *").minutes, 1 << 5 | 1 << 25 | 1 << 45);
        assert_eq!(
            cron("@daily"),
            Cron {
                text: "@daily".into(),
                ..cron("0 0 * * *")
            }
        );
        assert_eq!(cron("@hourly").minutes, 1);
        assert_eq!(
            Schedule::parse("@every 10m"),
            Ok(Schedule::Every(Duration::from_secs(600)))
        );
    }

    #[test]
    fn bad_expressions_name_the_field_and_value() {
        let e = |s: &str| Schedule::parse(s).unwrap_err();
        assert_eq!(
            e("61 * * * *"),
            "minute field \"61\": 61 is out of range 0-59"
        );
        assert_eq!(
            e("0 24 * * *"),
            "hour field \"24\": 24 is out of range 0-23"
        );
        assert_eq!(
            e("0 0 0 * *"),
            "day of month field \"0\": 0 is out of range 1-31"
        );
        assert_eq!(
            e("0 0 * 13 *"),
            "month field \"13\": 13 is out of range 1-12"
        );
        assert!(
            e("0 0 * * fun")
                .starts_with("day of week field \"fun\": \"fun\" is not a number or a name (sun,")
        );
        assert_eq!(
            e("*/0 * * * *"),
            "minute field \"*/0\": the step must be at least 1"
        );
        assert_eq!(
            e("5-1 * * * *"),
            "minute field \"5-1\": a range must go upwards"
        );
        assert!(e("* * * *").contains("has 4 fields; a cron expression has five"));
        assert_eq!(
            e("@every 500ms"),
            "\"@every 500ms\": the shortest interval is 1s"
        );
        assert!(e("@every soon").starts_with("@every: "));
        assert!(e("@fortnightly").starts_with("unknown \"@fortnightly\""));
    }

    /// The reference: every minute after t, one by one, fields compared
    /// plainly (UTC).
    fn brute_next(c: &Cron, t: i64, horizon_days: i64) -> Option<i64> {
        let mut m = t.div_euclid(60) * 60 + 60;
        let end = t + horizon_days * 86400;
        while m <= end {
            let v = Civil::of(m);
            let dom = c.days >> v.day & 1 == 1;
            let dow = c.weekdays >> v.weekday & 1 == 1;
            let day = if c.day_or { dom || dow } else { dom && dow };
            if c.minutes >> v.minute & 1 == 1
                && c.hours >> v.hour & 1 == 1
                && c.months >> v.month & 1 == 1
                && day
            {
                return Some(m);
            }
            m += 60;
        }
        None
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn next_after_agrees_with_a_minute_by_minute_reference(
            minute in proptest::prop_oneof!["\\*", "\\*/[1-9]", "[0-5]?[0-9]", "[0-2]?[0-9]-[3-5][0-9](/[1-9])?", "[0-9],[1-5][0-9]"],
            hour in proptest::prop_oneof!["\\*", "\\*/[1-9]", "1?[0-9]", "[0-9]-1[0-9]", "[0-9],2[0-3]"],
            dom in proptest::prop_oneof!["\\*", "[1-2]?[1-9]", "[1-9]-2[0-8]", "\\*/[2-9]"],
            month in proptest::prop_oneof!["\\*", "[1-9]", "[1-6]-1[0-2]", "\\*/[2-5]"],
            dow in proptest::prop_oneof!["\\*", "[0-7]", "[0-2]-[3-6]", "mon-fri"],
            t in 1_700_000_000i64..1_900_000_000,
        ) {
            let expr = format!("{minute} {hour} {dom} {month} {dow}");
            let c = Cron::parse(&expr).unwrap();
            let ours = c.next_after(t, utc);
            match brute_next(&c, t, 400) {
                Some(r) => proptest::prop_assert_eq!(ours, Some(r), "{}", expr),
                None => proptest::prop_assert!(ours.is_none_or(|o| o > t + 400 * 86400), "{}", expr),
            }
        }
    }

    #[test]
    fn rare_and_impossible_days() {
        let leap = cron("0 0 29 2 *");
        assert_eq!(
            leap.next_after(at(2026, 3, 1, 0, 0), utc),
            Some(at(2028, 2, 29, 0, 0))
        );
        assert_eq!(
            cron("0 0 30 2 *").next_after(at(2026, 1, 1, 0, 0), utc),
            None
        );
        // Either day field may match when both are restricted (Vixie cron).
        let either = cron("0 12 13 * fri");
        assert_eq!(
            either.next_after(at(2026, 12, 1, 0, 0), utc),
            Some(at(2026, 12, 4, 12, 0))
        );
    }

    #[test]
    fn a_time_in_the_skipped_hour_runs_once_at_the_end_of_the_gap() {
        // 2026-03-08, New York: 02:00 EST becomes 03:00 EDT (07:00Z).
        let c = cron("30 2 * * *");
        let before = at(2026, 3, 8, 5, 0); // 00:00 EST
        let run = c.next_after(before, new_york).unwrap();
        assert_eq!(run, at(2026, 3, 8, 7, 0), "{}", format_local(run, new_york));
        assert_eq!(format_local(run, new_york), "2026-03-08 03:00:00 -0400");
        // Once: the next is the next day's 02:30 EDT.
        assert_eq!(c.next_after(run, new_york), Some(at(2026, 3, 9, 6, 30)));
        // Every minute of the gap folds into that one run, then on it goes.
        let m = cron("* * * * *");
        assert_eq!(
            m.next_after(at(2026, 3, 8, 6, 59), new_york),
            Some(at(2026, 3, 8, 7, 0))
        );
        assert_eq!(
            m.next_after(at(2026, 3, 8, 7, 0), new_york),
            Some(at(2026, 3, 8, 7, 1))
        );
    }

    #[test]
    fn a_time_in_the_repeated_hour_runs_once_but_hourly_jobs_keep_the_clock() {
        // 2026-11-01, New York: 02:00 EDT becomes 01:00 EST (06:00Z), so
        // 01:00-01:59 happens twice.
        let c = cron("30 1 * * *");
        let first = c.next_after(at(2026, 11, 1, 4, 0), new_york).unwrap();
        assert_eq!(first, at(2026, 11, 1, 5, 30), "01:30 EDT");
        assert_eq!(
            c.next_after(first, new_york),
            Some(at(2026, 11, 2, 6, 30)),
            "not 01:30 EST"
        );
        // `*` hours: every hour is theirs, the repeated one too.
        let h = cron("30 * * * *");
        assert_eq!(
            h.next_after(first, new_york),
            Some(at(2026, 11, 1, 6, 30)),
            "01:30 EST"
        );
        assert_eq!(
            h.next_after(at(2026, 11, 1, 6, 30), new_york),
            Some(at(2026, 11, 1, 7, 30))
        );
    }

    #[test]
    fn civil_times_and_weekdays() {
        assert_eq!(
            Civil::of(at(2026, 12, 1, 13, 45)),
            Civil {
                year: 2026,
                month: 12,
                day: 1,
                hour: 13,
                minute: 45,
                weekday: 2
            }
        );
        assert_eq!(Civil::of(0).weekday, 4, "1970-01-01 was a Thursday");
        assert_eq!(
            format_local(at(2026, 7, 1, 12, 0), new_york),
            "2026-07-01 08:00:00 -0400"
        );
    }
}
