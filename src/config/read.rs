//! Reading TOML with its spans: typed accessors that name the file, line and
//! key of every error, and the unknown-key check with its suggestions.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;
use super::units;

/// Keys documented but not implemented yet (none today): rejected with
/// a message that says so, rather than silently ignored.
pub(super) const NOT_YET: &[&str] = &[];

pub(super) const PROCESS_KEYS: &[&str] = &[
    "command",
    "main",
    "oneshot",
    "depends_on",
    "stop_signal",
    "stop_timeout",
    "env",
    "success_codes",
    "restart_codes",
    "forward_signals",
    "restart",
    "restart_delay",
    "restart_delay_max",
    "max_restarts",
    "critical",
    "ready",
    "health",
    "readiness",
    "post_start",
    "pre_stop",
    "watch",
    "start",
    "listen",
    "fd_store_max",
    "replicas",
    "watch_ignore",
    "watch_debounce",
    "env_file",
    "user",
    "group",
    "working_dir",
    "umask",
    "stdout",
    "stderr",
    "log_format",
    "log_timestamps",
    "log_max_size",
    "log_max_files",
    "log_buffer",
    "watchdog",
    "no_new_privs",
    "tty",
    "rlimits",
    "oom_score_adj",
    "nice",
    "cpu_affinity",
    "capabilities",
    "memory_max",
    "memory_high",
    "cpu_max",
    "pids_max",
    "enabled",
    "schedule",
];

pub(super) const GLOBAL_KEYS: &[&str] = &[
    "shutdown_timeout",
    "control_socket",
    "log_dir",
    "http",
    "syslog",
    "cgroups",
    "pod_ends",
];

/// The keys of a `[podinit.syslog]` table.
pub(super) const SYSLOG_KEYS: &[&str] = &[
    "path",
    "stdout",
    "log_format",
    "log_timestamps",
    "log_max_size",
    "log_max_files",
];

pub(super) type Val<'i> = Spanned<DeValue<'i>>;
/// A table entry: key name, key span, value.
pub(super) type Entry<'v, 'i> = (&'v str, Range<usize>, Item<'v, 'i>);

/// One file of a layered config: its name and where its text starts in
/// the whole (`layers` lays the files out; a span's file is found here).
#[derive(Clone, Debug)]
pub struct Layer {
    pub file: String,
    pub base: usize,
}

/// A process a file removed with `enabled = false`: its name, and where.
pub(super) type Removed = (String, Range<usize>);

pub(super) struct Ctx<'a> {
    /// The files, their texts laid end to end in `text` (see `layers`).
    pub layers: &'a [Layer],
    pub text: &'a str,
    /// Processes a file removed with `enabled = false`.
    pub removed: Vec<Removed>,
    /// Where each process's `user` (else `group`) key is, as
    /// `FILE:LINE: KEY:`, for the identity check of `load_file`.
    pub identity_at: std::cell::RefCell<Vec<(usize, String)>>,
}

impl Ctx<'_> {
    /// The file a span is in, and the line.
    pub(super) fn line(&self, span: &Range<usize>) -> (&str, usize) {
        let end = span.start.min(self.text.len());
        let layer = self.layers.iter().rev().find(|l| l.base <= end);
        let base = layer.map_or(0, |l| l.base);
        let line = self.text.as_bytes()[base..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        (layer.map_or("", |l| l.file.as_str()), line)
    }

    /// `FILE:LINE` of a span.
    pub(super) fn at(&self, span: &Range<usize>) -> String {
        let (file, line) = self.line(span);
        format!("{file}:{line}")
    }

    /// Where a process that a file removed was removed, if it was.
    pub(super) fn removed_at(&self, name: &str) -> Option<String> {
        let (_, span) = self.removed.iter().find(|(n, _)| n == name)?;
        Some(self.at(span))
    }

    pub(super) fn err(
        &self,
        span: &Range<usize>,
        key: &str,
        msg: impl std::fmt::Display,
    ) -> ConfigError {
        ConfigError(format!("{}: {key}: {msg}", self.at(span)))
    }
}

fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(super) fn as_int(v: &Val) -> Option<i64> {
    match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// A located value: where it is and under which dotted key.
pub(super) struct Item<'v, 'i> {
    pub key: String,
    pub val: &'v Val<'i>,
}

impl<'v, 'i> Item<'v, 'i> {
    pub(super) fn span(&self) -> Range<usize> {
        self.val.span()
    }

    pub(super) fn bad(&self, cx: &Ctx, msg: impl std::fmt::Display) -> ConfigError {
        cx.err(&self.span(), &self.key, msg)
    }

    pub(super) fn wrong_type(&self, cx: &Ctx, want: &str) -> ConfigError {
        self.bad(
            cx,
            format!("expected {want}, found {}", type_name(self.val.get_ref())),
        )
    }

    pub(super) fn string(&self, cx: &Ctx) -> Result<&'v str, ConfigError> {
        match self.val.get_ref() {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(self.wrong_type(cx, "a string")),
        }
    }

    pub(super) fn boolean(&self, cx: &Ctx) -> Result<bool, ConfigError> {
        match self.val.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong_type(cx, "true or false")),
        }
    }

    pub(super) fn duration(&self, cx: &Ctx) -> Result<Duration, ConfigError> {
        match self.val.get_ref() {
            DeValue::String(s) => units::parse_duration(s).map_err(|e| self.bad(cx, e)),
            DeValue::Integer(_) => match as_int(self.val) {
                Some(n) if n >= 0 => Ok(Duration::from_secs(n as u64)),
                _ => Err(self.bad(cx, "a duration cannot be negative")),
            },
            _ => Err(self.wrong_type(cx, "a duration such as \"10s\" or integer seconds")),
        }
    }

    pub(super) fn signal(&self, cx: &Ctx) -> Result<i32, ConfigError> {
        match self.val.get_ref() {
            DeValue::String(s) => units::parse_signal(s).map_err(|e| self.bad(cx, e)),
            DeValue::Integer(_) => {
                let n = as_int(self.val).unwrap_or(0);
                units::parse_signal(&n.to_string()).map_err(|e| self.bad(cx, e))
            }
            _ => Err(self.wrong_type(cx, "a signal name such as \"TERM\" or a number")),
        }
    }

    pub(super) fn array(&self, cx: &Ctx) -> Result<Vec<Item<'v, 'i>>, ConfigError> {
        match self.val.get_ref() {
            DeValue::Array(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| Item {
                    key: format!("{}[{i}]", self.key),
                    val: v,
                })
                .collect()),
            _ => Err(self.wrong_type(cx, "an array")),
        }
    }

    /// Entries of a table value, in file order.
    pub(super) fn table(&self, cx: &Ctx) -> Result<Vec<Entry<'v, 'i>>, ConfigError> {
        match self.val.get_ref() {
            DeValue::Table(t) => Ok(entries(t, &self.key)),
            _ => Err(self.wrong_type(cx, "a table")),
        }
    }
}

/// The entries of a table in the order they appear in the file.
pub(super) fn entries<'v, 'i>(t: &'v DeTable<'i>, prefix: &str) -> Vec<Entry<'v, 'i>> {
    let mut v: Vec<_> = t
        .iter()
        .map(|(k, val)| {
            let name: &str = k.get_ref().as_ref();
            let key = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            (name, k.span(), Item { key, val })
        })
        .collect();
    v.sort_by_key(|(_, span, _)| span.start);
    v
}

pub(super) fn check_keys(
    cx: &Ctx,
    items: &[(&str, Range<usize>, Item)],
    allowed: &[&str],
) -> Result<(), ConfigError> {
    for (name, span, item) in items {
        if allowed.contains(name) {
            continue;
        }
        if NOT_YET.contains(name) {
            return Err(cx.err(
                span,
                &item.key,
                "this key of the podinit config format is not supported by this version yet",
            ));
        }
        let mut msg = format!("unknown key; expected one of: {}", allowed.join(", "));
        if let Some(close) = allowed.iter().find(|a| similar(a, name)) {
            msg = format!("unknown key; did you mean `{close}`?");
        }
        return Err(cx.err(span, &item.key, msg));
    }
    Ok(())
}

/// A cheap "did you mean": same letters but one edit, or a different case/separator.
pub(super) fn similar(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    if norm(a) == norm(b) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    // Levenshtein distance ≤ 1.
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with(['.', '-'])
}

/// A key of a process table, else of `[defaults]`.
pub(super) fn lookup<'a, 'v, 'i>(
    items: &'a [Entry<'v, 'i>],
    defaults: &'a [Entry<'v, 'i>],
    key: &str,
) -> Option<&'a Item<'v, 'i>> {
    items
        .iter()
        .chain(defaults.iter())
        .find(|(n, _, _)| *n == key)
        .map(|(_, _, i)| i)
}
