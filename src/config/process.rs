//! One `[process.NAME]` table → a [`ProcSpec`], validated key group by key
//! group: command and environment, lifecycle, dependencies, probes,
//! identity, output. Every error names the file, the line and the key.

use std::collections::HashMap;
use std::ffi::OsString;
use std::ops::Range;
use std::time::Duration;

use toml::de::DeValue;

use super::read::{Ctx, Entry, Item, as_int, lookup};
use super::schema::*;
use super::units::{self, forwardable, parse_size, signal_name};
use super::{EnvLookup, probe};

/// What validating one process table needs to know.
pub(super) struct Table<'a, 'v, 'i> {
    pub cx: &'a Ctx<'a>,
    pub name: &'a str,
    pub span: &'a Range<usize>,
    pub table: &'a Item<'v, 'i>,
    pub items: &'a [Entry<'v, 'i>],
    pub defaults: &'a [Entry<'v, 'i>],
    /// Process name → index, for `depends_on` and `process:` targets.
    pub index: &'a HashMap<String, usize>,
    /// Per process: whether it is a oneshot (default conditions need it).
    pub oneshot: &'a [bool],
    /// This process's index.
    pub me: usize,
    pub env: EnvLookup<'a>,
    pub log_dir: &'a str,
}

type Result<T> = std::result::Result<T, ConfigError>;

/// Lifecycle keys: how the process runs, stops and restarts.
struct Lifecycle {
    main: bool,
    stop_signal: i32,
    stop_timeout: Duration,
    success_codes: Vec<i32>,
    forward_signals: units::SignalSet,
    restart: Restart,
    restart_delay: Duration,
    restart_delay_max: Duration,
    max_restarts: Option<u32>,
    critical: bool,
}

/// Identity keys: who runs it, where, with which umask and env file.
struct Identity {
    env_file: Option<String>,
    working_dir: Option<String>,
    user: Option<String>,
    group: Option<String>,
    umask: Option<u32>,
}

/// Output keys: where its stdout and stderr go, and how.
pub(super) struct Output {
    pub stdout: Target,
    pub stderr: Target,
    pub log_format: Option<LogFormat>,
    pub log_timestamps: bool,
    pub log_max_size: Option<u64>,
    pub log_max_files: u32,
}

impl<'a, 'v, 'i> Table<'a, 'v, 'i> {
    /// The process's key, else `[defaults]`'.
    fn get(&self, key: &str) -> Option<&'a Item<'v, 'i>> {
        lookup(self.items, self.defaults, key)
    }

    fn flag(&self, key: &str) -> Result<bool> {
        Ok(self
            .get(key)
            .map(|i| i.boolean(self.cx))
            .transpose()?
            .unwrap_or(false))
    }

    fn duration_or(&self, key: &str, default: Duration) -> Result<Duration> {
        Ok(self
            .get(key)
            .map(|i| i.duration(self.cx))
            .transpose()?
            .unwrap_or(default))
    }

    /// The whole spec.
    pub fn spec(&self) -> Result<ProcSpec> {
        let env = self.env_vars()?;
        let argv = self.argv(&env)?;
        let life = self.lifecycle()?;
        let id = self.identity()?;
        let out = self.output()?;
        let start = self.start_mode()?;
        Ok(ProcSpec {
            name: self.name.to_string(),
            argv,
            main: life.main,
            oneshot: self.oneshot[self.me],
            deps: self.deps()?,
            stop_signal: life.stop_signal,
            stop_timeout: life.stop_timeout,
            env,
            success_codes: life.success_codes,
            restart_codes: self.codes("restart_codes", Vec::new())?,
            forward_signals: life.forward_signals,
            from_command_line: false,
            tty: self.flag("tty")?,
            restart: life.restart,
            restart_delay: life.restart_delay,
            restart_delay_max: life.restart_delay_max,
            max_restarts: life.max_restarts,
            critical: life.critical,
            ready: self.gate()?,
            health: self
                .get("health")
                .map(|i| probe::parse(self.cx, i, probe::Role::Health).map(Box::new))
                .transpose()?,
            readiness: self.readiness()?,
            post_start: self.hook("post_start")?,
            pre_stop: self.hook("pre_stop")?,
            watch: self.watch_keys()?,
            manual_start: start == Some(false),
            on_demand: start == Some(true),
            listen: self.listen()?,
            fd_store_max: self.fd_store_max()?,
            replicas: self.replicas()?,
            replica: None,
            env_file: id.env_file,
            user: id.user,
            group: id.group,
            working_dir: id.working_dir,
            umask: id.umask,
            stdout: out.stdout,
            stderr: out.stderr,
            log_format: out.log_format,
            log_timestamps: out.log_timestamps,
            log_max_size: out.log_max_size,
            log_max_files: out.log_max_files,
            log_buffer: self.log_buffer()?,
            watchdog: self.watchdog()?,
            no_new_privs: self.flag("no_new_privs")?,
            schedule: self.schedule(life.main, life.restart)?.map(Box::new),
            resources: Box::new(super::resources::parse(self.cx, &|k| self.get(k))?),
        })
    }

    /// `schedule`: a oneshot's run times; not for a main, nor with
    /// `restart = "always"` (a run would never end).
    fn schedule(&self, main: bool, restart: Restart) -> Result<Option<super::Schedule>> {
        let cx = self.cx;
        let Some(item) = self.get("schedule") else {
            return Ok(None);
        };
        let text = item.string(cx)?;
        let sched = super::Schedule::parse(text).map_err(|e| item.bad(cx, e))?;
        if let super::Schedule::Cron(c) = &sched
            && !c.can_fire()
        {
            return Err(item.bad(
                cx,
                format!("{text:?} can never run: none of the months it names has those days of the month"),
            ));
        }
        if !self.oneshot[self.me] {
            return Err(item.bad(
                cx,
                "only a oneshot may have a schedule (a scheduled job runs to completion at each due time); add oneshot = true",
            ));
        }
        if main {
            return Err(item.bad(
                cx,
                "a main process cannot have a schedule: the pod ends when its main ends",
            ));
        }
        if restart == Restart::Always {
            return Err(item.bad(cx, "restart = \"always\" would run a scheduled job without end; use \"never\" (the default) or \"on-failure\""));
        }
        Ok(Some(sched))
    }

    // ---- command and environment ----------------------------------------

    /// `env`, expanded from podinit's environment, in file order (a later
    /// key of the same name wins).
    fn env_vars(&self) -> Result<Vec<(String, String)>> {
        let cx = self.cx;
        let mut vars: Vec<(String, String)> = Vec::new();
        let Some(item) = self.get("env") else {
            return Ok(vars);
        };
        for (k, kspan, v) in item.table(cx)? {
            let valid = !k.is_empty()
                && !k.contains('=')
                && !k.contains('\0')
                && !k.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(cx.err(&kspan, &v.key, "not a valid environment variable name"));
            }
            let raw = match v.val.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Boolean(b) => b.to_string(),
                DeValue::Integer(i) => {
                    as_int(v.val).map_or_else(|| i.as_str().to_string(), |n| n.to_string())
                }
                DeValue::Float(f) => f.as_str().to_string(),
                _ => return Err(v.wrong_type(cx, "a string")),
            };
            let value = units::expand_env_value(&raw, self.env).map_err(|e| v.bad(cx, e))?;
            if units::secret_pieces(&value)
                .iter()
                .any(|p| matches!(p, units::Piece::Text(t) if t.contains('\0')))
            {
                return Err(v.bad(cx, "a value cannot contain a NUL byte"));
            }
            vars.retain(|(n, _)| n != k);
            vars.push((k.to_string(), value));
        }
        Ok(vars)
    }

    /// `command`: an argv array, or a string split shell-style, then
    /// expanded from the process's own environment (podinit's plus `env`).
    fn argv(&self, vars: &[(String, String)]) -> Result<Vec<OsString>> {
        let cx = self.cx;
        let lookup_cmd = |n: &str| -> Option<String> {
            vars.iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .or_else(|| (self.env)(n))
        };
        let Some((_, _, item)) = self.items.iter().find(|(n, _, _)| *n == "command") else {
            return Err(cx.err(self.span, &self.table.key, "`command` is missing"));
        };
        let words: Vec<String> = match item.val.get_ref() {
            DeValue::String(s) => shlex::split(s)
                .ok_or_else(|| item.bad(cx, "unbalanced quotes or a trailing backslash"))?,
            DeValue::Array(_) => item
                .array(cx)?
                .iter()
                .map(|el| el.string(cx).map(str::to_string))
                .collect::<Result<_>>()?,
            _ => return Err(item.wrong_type(cx, "an argv array or a command string")),
        };
        if words.first().is_none_or(String::is_empty) {
            return Err(item.bad(cx, "the command is empty"));
        }
        let mut argv = Vec::new();
        for w in words {
            let w = units::expand_vars(&w, &lookup_cmd).map_err(|e| item.bad(cx, e))?;
            if units::has_secret(&w) {
                return Err(item.bad(
                    cx,
                    "names a variable of `env` that is a ${file:...} secret, read at each start: the command cannot use it; read it in the process instead (sh -c '... \"$$NAME\"')",
                ));
            }
            if w.contains('\0') {
                return Err(item.bad(cx, "an argument cannot contain a NUL byte"));
            }
            argv.push(w.into());
        }
        Ok(argv)
    }

    // ---- lifecycle -------------------------------------------------------

    fn lifecycle(&self) -> Result<Lifecycle> {
        let cx = self.cx;
        let main = self.flag("main")?;
        let restart = match self.get("restart") {
            Some(i) => match i.string(cx)? {
                "always" => Restart::Always,
                "on-failure" => Restart::OnFailure,
                "never" => Restart::Never,
                other => {
                    return Err(i.bad(
                        cx,
                        format!("unknown policy {other:?}; expected \"always\", \"on-failure\" or \"never\""),
                    ));
                }
            },
            None if main || self.oneshot[self.me] => Restart::Never,
            None => Restart::Always,
        };
        let restart_delay = self.duration_or("restart_delay", DEFAULT_RESTART_DELAY)?;
        let restart_delay_max = match self.get("restart_delay_max") {
            Some(i) => {
                let d = i.duration(cx)?;
                if d < restart_delay {
                    return Err(i.bad(cx, "must not be less than restart_delay"));
                }
                d
            }
            None => DEFAULT_RESTART_DELAY_MAX.max(restart_delay),
        };
        let max_restarts = match self.get("max_restarts") {
            Some(i) => match as_int(i.val) {
                Some(n) if (0..=u32::MAX as i64).contains(&n) => Some(n as u32),
                _ => return Err(i.bad(cx, "expected a whole number (0 or more)")),
            },
            None => None,
        };
        Ok(Lifecycle {
            main,
            stop_signal: self
                .get("stop_signal")
                .map(|i| i.signal(cx))
                .transpose()?
                .unwrap_or(libc::SIGTERM),
            stop_timeout: self.duration_or("stop_timeout", DEFAULT_STOP_TIMEOUT)?,
            success_codes: self.success_codes()?,
            forward_signals: self.forward_signals()?,
            restart,
            restart_delay,
            restart_delay_max,
            max_restarts,
            critical: self.flag("critical")?,
        })
    }

    fn success_codes(&self) -> Result<Vec<i32>> {
        self.codes("success_codes", vec![0])
    }

    /// A list of exit codes 0–255 (`success_codes`, `restart_codes`).
    fn codes(&self, key: &str, default: Vec<i32>) -> Result<Vec<i32>> {
        let Some(item) = self.get(key) else {
            return Ok(default);
        };
        let mut codes = Vec::new();
        for el in item.array(self.cx)? {
            match as_int(el.val) {
                Some(n) if (0..=255).contains(&n) => codes.push(n as i32),
                Some(_) => return Err(el.bad(self.cx, "an exit status goes from 0 to 255")),
                None => return Err(el.wrong_type(self.cx, "an integer exit status")),
            }
        }
        Ok(codes)
    }

    /// Explicit `forward_signals` (the defaults are decided pod-wide).
    fn forward_signals(&self) -> Result<units::SignalSet> {
        let mut out = units::SignalSet::default();
        let Some(item) = self.get("forward_signals") else {
            return Ok(out);
        };
        for el in item.array(self.cx)? {
            let sig = el.signal(self.cx)?;
            if !forwardable(sig) {
                return Err(el.bad(
                    self.cx,
                    format!(
                        "SIG{} is handled by podinit itself and cannot be forwarded",
                        signal_name(sig)
                    ),
                ));
            }
            out.push(sig);
        }
        Ok(out)
    }

    // ---- dependencies ----------------------------------------------------

    /// `depends_on`: `["a", "b"]`, or `{ a = "started" | "ready" | "completed" }`.
    fn deps(&self) -> Result<Vec<Dep>> {
        let cx = self.cx;
        let mut deps: Vec<Dep> = Vec::new();
        let Some(item) = self.get("depends_on") else {
            return Ok(deps);
        };
        match item.val.get_ref() {
            DeValue::Array(_) => {
                for el in item.array(cx)? {
                    let n = el.string(cx)?;
                    self.add_dep(&mut deps, n, &el.span(), &el.key, None)?;
                }
            }
            DeValue::Table(_) => {
                for (n, nspan, v) in item.table(cx)? {
                    let cond = match v.string(cx)? {
                        "started" => Condition::Started,
                        "ready" => Condition::Ready,
                        "completed" => Condition::Completed,
                        "any-ready" => Condition::AnyReady,
                        other => {
                            return Err(v.bad(
                                cx,
                                format!("unknown condition {other:?}; expected \"started\", \"ready\", \"completed\" or \"any-ready\""),
                            ));
                        }
                    };
                    self.add_dep(&mut deps, n, &nspan, &v.key, Some(cond))?;
                }
            }
            _ => {
                return Err(item.wrong_type(cx, "an array of names or a table of name = condition"));
            }
        }
        Ok(deps)
    }

    fn add_dep(
        &self,
        deps: &mut Vec<Dep>,
        dep_name: &str,
        dspan: &Range<usize>,
        key: &str,
        cond: Option<Condition>,
    ) -> Result<()> {
        let cx = self.cx;
        let Some(&on) = self.index.get(dep_name) else {
            if let Some(at) = cx.removed_at(dep_name) {
                return Err(cx.err(dspan, key, removed_msg(dep_name, &at)));
            }
            let mut known: Vec<&str> = self.index.keys().map(|s| s.as_str()).collect();
            known.sort();
            return Err(cx.err(
                dspan,
                key,
                format!(
                    "unknown process {dep_name:?} (defined: {})",
                    known.join(", ")
                ),
            ));
        };
        if on == self.me {
            let name = self.name;
            return Err(cx.err(dspan, key, format!("dependency cycle: {name} -> {name}")));
        }
        let cond = cond.unwrap_or(if self.oneshot[on] {
            Condition::Completed
        } else {
            Condition::Ready
        });
        if cond == Condition::Completed && !self.oneshot[on] {
            return Err(cx.err(
                dspan,
                key,
                format!("{dep_name:?} is not a oneshot, so it never becomes `completed`; use \"started\" or \"ready\", or set oneshot = true on it"),
            ));
        }
        if deps.iter().any(|d| d.on == on) {
            return Err(cx.err(dspan, key, format!("{dep_name:?} is listed twice")));
        }
        deps.push(Dep { on, cond });
        Ok(())
    }

    // ---- identity --------------------------------------------------------

    /// A non-empty string key, `${NAME}` expanded.
    fn opt_string(&self, key: &str) -> Result<Option<String>> {
        let Some(i) = self.get(key) else {
            return Ok(None);
        };
        let v = i.string(self.cx)?;
        if v.is_empty() || v.contains('\0') {
            return Err(i.bad(self.cx, "must not be empty"));
        }
        units::expand_vars(v, self.env)
            .map(Some)
            .map_err(|e| i.bad(self.cx, e))
    }

    /// `user` or `group`: a name, or a number.
    fn id(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            Some(i) if matches!(i.val.get_ref(), DeValue::Integer(_)) => match as_int(i.val) {
                Some(n) if (0..u32::MAX as i64).contains(&n) => Ok(Some(n.to_string())),
                _ => Err(i.bad(self.cx, "not a valid id")),
            },
            _ => self.opt_string(key),
        }
    }

    fn identity(&self) -> Result<Identity> {
        let cx = self.cx;
        if let Some(i) = self.get("user").or_else(|| self.get("group")) {
            let at = i.bad(cx, "").0.trim_end().to_string();
            cx.identity_at.borrow_mut().push((self.me, at));
        }
        let umask = match self.get("umask") {
            None => None,
            Some(i) => {
                let n = match i.val.get_ref() {
                    DeValue::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
                    DeValue::Integer(_) => as_int(i.val).and_then(|n| u32::try_from(n).ok()),
                    _ => None,
                };
                match n {
                    Some(n) if n <= 0o777 => Some(n),
                    _ => return Err(i.bad(cx, "expected an octal mode such as \"022\" or 0o022")),
                }
            }
        };
        Ok(Identity {
            env_file: self.opt_string("env_file")?,
            working_dir: self.opt_string("working_dir")?,
            user: self.id("user")?,
            group: self.id("group")?,
            umask,
        })
    }

    // ---- output ----------------------------------------------------------

    pub(super) fn output(&self) -> Result<Output> {
        let cx = self.cx;
        let log_format = match self.get("log_format") {
            None => None,
            Some(i) => Some(match i.string(cx)? {
                "prefix" => LogFormat::Prefix,
                "raw" => LogFormat::Raw,
                "json" => LogFormat::Json,
                other => {
                    return Err(i.bad(
                        cx,
                        format!(
                            "unknown format {other:?}; expected \"prefix\", \"raw\" or \"json\""
                        ),
                    ));
                }
            }),
        };
        let log_max_files = match self.get("log_max_files") {
            None => DEFAULT_LOG_MAX_FILES,
            Some(i) => match as_int(i.val) {
                Some(n) if (1..=1000).contains(&n) => n as u32,
                _ => return Err(i.bad(cx, "expected a whole number from 1 to 1000")),
            },
        };
        Ok(Output {
            stdout: self.target("stdout")?,
            stderr: self.target("stderr")?,
            log_format,
            log_timestamps: self.flag("log_timestamps")?,
            log_max_size: self.log_max_size()?,
            log_max_files,
        })
    }

    /// `stdout` / `stderr`: console, null, file:PATH, process:NAME (stdout).
    fn target(&self, key: &str) -> Result<Target> {
        let cx = self.cx;
        let Some(i) = self.get(key) else {
            return Ok(Target::Console);
        };
        let v = i.string(cx)?;
        Ok(match v {
            "console" => Target::Console,
            "null" => Target::Null,
            "stdout" if key == "stderr" => Target::Stdout,
            _ if v.starts_with("file:") => Target::File(self.file_target(i, &v[5..])?),
            _ if v.starts_with("process:") => {
                let other = &v[8..];
                let Some(&on) = self.index.get(other) else {
                    if let Some(at) = cx.removed_at(other) {
                        return Err(i.bad(cx, removed_msg(other, &at)));
                    }
                    return Err(i.bad(cx, format!("unknown process {other:?}")));
                };
                if on == self.me {
                    return Err(i.bad(cx, "a process cannot write to its own stdin"));
                }
                Target::Process(on)
            }
            _ => {
                let also = if key == "stderr" { ", \"stdout\"" } else { "" };
                return Err(i.bad(
                    cx,
                    format!("unknown target {v:?}; expected \"console\", \"null\", \"file:PATH\", \"process:NAME\"{also}"),
                ));
            }
        })
    }

    /// The path of a `file:` target: absolute, or under `log_dir`.
    fn file_target(&self, i: &Item, raw: &str) -> Result<String> {
        let cx = self.cx;
        let path = units::expand_vars(raw, self.env).map_err(|e| i.bad(cx, e))?;
        if path.is_empty() || path.ends_with('/') {
            return Err(i.bad(cx, "`file:` needs a file name, as in \"file:app.log\""));
        }
        if path.starts_with('/') {
            return Ok(path);
        }
        if self.log_dir.is_empty() {
            return Err(i.bad(
                cx,
                format!(
                    "{path:?} is relative to log_dir, which has no default here (podinit is not root and \
                     has no usable $XDG_STATE_HOME or $HOME); set [podinit] log_dir or give an absolute path"
                ),
            ));
        }
        Ok(format!("{}/{path}", self.log_dir.trim_end_matches('/')))
    }

    /// `replicas`: 1 to 1000.
    fn replicas(&self) -> Result<Option<u32>> {
        let Some(i) = self.get("replicas") else {
            return Ok(None);
        };
        // `podinit scale NAME N` (the runtime's, until the next reload).
        let scaled = (self.env)(&format!("PODINIT_SCALE:{}", self.name));
        if let Some(n) = scaled.and_then(|v| v.parse().ok()) {
            return Ok(Some(n));
        }
        match as_int(i.val) {
            Some(n) if (1..=1000).contains(&n) => Ok(Some(n as u32)),
            _ => Err(i.bad(self.cx, "expected 1 to 1000 replicas")),
        }
    }

    fn readiness(&self) -> Result<Option<Box<super::Probe>>> {
        self.get("readiness")
            .map(|i| probe::parse(self.cx, i, probe::Role::Readiness).map(Box::new))
            .transpose()
    }

    /// `fd_store_max`: 0 to 256, default 16 (systemd's FileDescriptorStoreMax
    /// is 0 by default; podinit keeps a few, as the issue asks).
    fn fd_store_max(&self) -> Result<usize> {
        match self.get("fd_store_max") {
            None => Ok(16),
            Some(i) => match as_int(i.val) {
                Some(n) if (0..=256).contains(&n) => Ok(n as usize),
                _ => Err(i.bad(self.cx, "expected 0 to 256 fds")),
            },
        }
    }

    /// `listen`, its fds (3 on) clear of a `notify_fd`.
    fn listen(&self) -> Result<Vec<super::listen::Listen>> {
        let Some(i) = self.get("listen") else {
            return Ok(Vec::new());
        };
        let l = super::listen::parse(self.cx, i, self.name)?;
        let notify = self
            .get("ready")
            .and_then(|r| probe::parse(self.cx, r, probe::Role::Ready).ok())
            .and_then(|p| match p.kind {
                super::ProbeKind::NotifyFd(n) => Some(n),
                _ => None,
            });
        if let Some(n) = notify.filter(|n| (*n as usize) < 3 + l.len()) {
            return Err(i.bad(
                self.cx,
                format!("its sockets take fds 3 to {}, and ready.notify_fd is {n}: move notify_fd above them", 2 + l.len()),
            ));
        }
        if l.len() > 64 {
            return Err(i.bad(self.cx, "at most 64 sockets per process"));
        }
        Ok(l)
    }

    /// `start`: `"auto"` (with the pod, the default: None), `"manual"`
    /// (Some(false)) or `"on-demand"` (Some(true), which needs `listen`).
    fn start_mode(&self) -> Result<Option<bool>> {
        let Some(i) = self.get("start") else {
            return Ok(None);
        };
        let main = self
            .get("main")
            .is_some_and(|m| m.boolean(self.cx).unwrap_or(false));
        match i.string(self.cx)? {
            "auto" => Ok(None),
            "on-demand" if main => Err(i.bad(self.cx, "a main process starts with the pod")),
            "on-demand" if self.get("listen").is_none() => Err(i.bad(
                self.cx,
                "needs `listen`: it starts at the first connection to one of its sockets",
            )),
            "on-demand"
                if self
                    .get("oneshot")
                    .is_some_and(|m| m.boolean(self.cx).unwrap_or(false)) =>
            {
                Err(i.bad(self.cx, "a oneshot runs once; on-demand is for servers"))
            }
            "on-demand" => Ok(Some(true)),
            "manual" if main => Err(i.bad(
                self.cx,
                "a main process starts with the pod; `manual` is for the others",
            )),
            "manual" => Ok(Some(false)),
            other => Err(i.bad(
                self.cx,
                format!("{other:?}: expected \"auto\", \"manual\" or \"on-demand\""),
            )),
        }
    }

    /// `watch`, with `watch_ignore` and `watch_debounce` (which need it).
    fn watch_keys(&self) -> Result<Option<Box<super::watch::Watch>>> {
        use super::watch;
        let Some(w) = self.get("watch") else {
            for k in ["watch_ignore", "watch_debounce"] {
                if let Some(i) = self.get(k) {
                    return Err(i.bad(self.cx, "needs `watch`: the files whose changes restart it"));
                }
            }
            return Ok(None);
        };
        let globs = watch::patterns(self.cx, w)?;
        if globs.is_empty() {
            return Err(w.bad(
                self.cx,
                "lists no file; remove it, or name globs such as \"src/**/*.py\"",
            ));
        }
        let ignore = match self.get("watch_ignore") {
            Some(i) => watch::patterns(self.cx, i)?,
            None => Vec::new(),
        };
        let debounce = match self.get("watch_debounce") {
            Some(i) => i.duration(self.cx)?,
            None => watch::DEFAULT_DEBOUNCE,
        };
        Ok(Some(Box::new(watch::Watch {
            globs,
            ignore,
            debounce,
        })))
    }

    /// `ready`, or (without it) the gate a `readiness` probe makes: its
    /// first pass, retried for ever.
    fn gate(&self) -> Result<Option<Box<super::Probe>>> {
        if let Some(i) = self.get("ready") {
            return probe::parse(self.cx, i, probe::Role::Ready).map(|p| Some(Box::new(p)));
        }
        Ok(self
            .get("readiness")
            .map(|i| probe::parse(self.cx, i, probe::Role::Readiness))
            .transpose()?
            .map(|p| Box::new(super::Probe { failures: 0, ..p })))
    }

    /// `post_start` / `pre_stop`: a hook table.
    fn hook(&self, key: &str) -> Result<Option<Box<probe::Hook>>> {
        self.get(key)
            .map(|i| probe::parse_hook(self.cx, i).map(Box::new))
            .transpose()
    }

    /// `watchdog`: at least 100 ms, and only with sd_notify readiness (the
    /// channel the pings come on).
    fn watchdog(&self) -> Result<Option<Duration>> {
        let Some(i) = self.get("watchdog") else {
            return Ok(None);
        };
        let d = i.duration(self.cx)?;
        if d < Duration::from_millis(100) {
            return Err(i.bad(self.cx, "at least 100ms"));
        }
        let sd = self
            .get("ready")
            .and_then(|r| probe::parse(self.cx, r, probe::Role::Ready).ok())
            .is_some_and(|p| p.kind == super::ProbeKind::SdNotify);
        if !sd {
            return Err(i.bad(
                self.cx,
                "needs ready = { sd_notify = true }: the pings come on $NOTIFY_SOCKET",
            ));
        }
        Ok(Some(d))
    }

    /// A size key: `"10MiB"`-style text or integer bytes.
    fn size(&self, key: &str, example: &str) -> Result<Option<(u64, &'a Item<'v, 'i>)>> {
        let cx = self.cx;
        let Some(i) = self.get(key) else {
            return Ok(None);
        };
        let n = match i.val.get_ref() {
            DeValue::String(s) => parse_size(s).map_err(|e| i.bad(cx, e))?,
            DeValue::Integer(_) => as_int(i.val)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| i.bad(cx, "a size cannot be negative"))?,
            _ => return Err(i.wrong_type(cx, example)),
        };
        Ok(Some((n, i)))
    }

    /// `log_buffer`: a size, `"0"` for none; at most 16 MiB.
    fn log_buffer(&self) -> Result<u64> {
        match self.size("log_buffer", "a size such as \"64KiB\", or \"0\" for none")? {
            None => Ok(DEFAULT_LOG_BUFFER),
            Some((n, i)) if n > 16 << 20 => {
                Err(i.bad(self.cx, "at most 16MiB: it is kept in podinit's memory"))
            }
            Some((n, _)) => Ok(n),
        }
    }

    fn log_max_size(&self) -> Result<Option<u64>> {
        match self.size("log_max_size", "a size such as \"10MiB\" or integer bytes")? {
            Some((n, i)) if n < 1024 => Err(i.bad(self.cx, "rotating below 1KiB makes no sense")),
            other => Ok(other.map(|(n, _)| n)),
        }
    }
}

/// A reference to a process that a later file removed.
fn removed_msg(name: &str, at: &str) -> String {
    format!(
        "process {name:?} was removed by `enabled = false` at {at}; remove this reference too (in a later file), or keep {name:?}"
    )
}
