//! `podinit check`: the plan, every process's effective settings, the
//! worst-case shutdown, and the warnings about this environment.

use std::time::Duration;

use super::schema::*;
use super::units::{self, all_forwardable, format_duration, signal_name};

/// The longest a shutdown can take: along the stop order, each level waits
/// for its slowest `stop_timeout`, then strays get the sweep's grace (the
/// longest `stop_timeout`); `shutdown_timeout` caps the whole.
pub fn worst_case_shutdown(cfg: &Config) -> Duration {
    let slowest = |ids: &[usize]| {
        ids.iter()
            .map(|&i| cfg.procs[i].stop_timeout)
            .max()
            .unwrap_or_default()
    };
    let levels: Duration = cfg.plan.levels.iter().map(|l| slowest(l)).sum();
    let all: Vec<usize> = (0..cfg.procs.len()).collect();
    (levels + slowest(&all)).min(cfg.global.shutdown_timeout)
}

/// What would fail at run time in this environment, found before anything
/// starts: log files podinit cannot write (their output would be kept in
/// memory, retried, and lost at exit) and a control socket it cannot bind.
/// `podinit check` prints these; the run logs them as warnings.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for p in &cfg.procs {
        for (key, target) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
            if let Target::File(path) = target
                && let Some(why) = crate::sys::write_problem(std::path::Path::new(path))
            {
                out.push(format!(
                    "process.{}.{key}: {why}; this output would be kept in memory, retried every second, and lost at exit (set [podinit] log_dir or the target)",
                    p.name
                ));
            }
        }
        if let Some(w) = p.watch.as_deref() {
            let base = super::watch::base_of(p.working_dir.as_deref());
            for g in &w.globs {
                if !super::watch::matches_something(w, g, &base) {
                    out.push(format!(
                        "process.{}.watch: {g:?} matches no file under {} (yet)",
                        p.name,
                        base.display()
                    ));
                }
            }
        }
        if let Some(super::Hook::Sleep(d)) = p.pre_stop.as_deref()
            && *d >= p.stop_timeout
        {
            out.push(format!(
                "process.{}.pre_stop: it sleeps {} and stop_timeout is {}: the process would get SIGKILL right after its stop signal (stop_timeout covers the hook)",
                p.name,
                format_duration(*d),
                format_duration(p.stop_timeout)
            ));
        }
    }
    if let Some(sock) = &cfg.global.control_socket
        && let Some(why) = crate::sys::write_problem(std::path::Path::new(sock))
    {
        out.push(format!(
            "podinit.control_socket: {why}; `podinit status` and the other verbs would not reach the pod"
        ));
    }
    out
}

/// docker stop's default grace period (`docker run --stop-timeout`).
const DOCKER_STOP_GRACE: Duration = Duration::from_secs(10);

/// The wall clock (Unix seconds) and the zone `check` shows next runs in.
pub type Clock = Option<(i64, super::Zone)>;

/// `podinit check`: the plan and every process's effective settings.
pub fn describe(cfg: &Config) -> String {
    describe_at(cfg, None)
}

/// [`describe`], with each cron schedule's next three times after `clock`.
pub fn describe_at(cfg: &Config, clock: Clock) -> String {
    let mut out = header(cfg);
    for p in &cfg.procs {
        out += &process(cfg, p, clock);
    }
    if !cfg.provenance.is_empty() {
        out += "where each setting comes from (the last file that set it):\n";
        let width = cfg
            .provenance
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        for (key, at) in &cfg.provenance {
            out += &format!("  {key:width$}  {at}\n");
        }
    }
    out
}

/// The pod-wide part: source, timeouts, directories, start and stop order.
/// Long on purpose: one line of `check` output after another, in the
/// order printed; split, the order would be spread over functions.
fn header(cfg: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let names = |ids: &[usize]| -> String {
        ids.iter()
            .map(|&i| cfg.procs[i].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let source = cfg.source.as_deref().unwrap_or("(none: command line only)");
    let _ = writeln!(out, "config: {source}");
    let _ = writeln!(
        out,
        "shutdown_timeout: {}",
        format_duration(cfg.global.shutdown_timeout)
    );
    let worst = worst_case_shutdown(cfg);
    let _ = writeln!(
        out,
        "worst-case shutdown: {}{}",
        format_duration(worst),
        if worst > DOCKER_STOP_GRACE {
            " (more than docker stop's 10s: raise it with --stop-timeout or stop_grace_period)"
        } else {
            ""
        }
    );
    let log_dir = if cfg.global.log_dir.is_empty() {
        "(none: podinit is not root and has no usable $XDG_STATE_HOME or $HOME)"
    } else {
        &cfg.global.log_dir
    };
    let _ = writeln!(out, "log_dir: {log_dir}");
    let socket = cfg.global.control_socket.as_deref().unwrap_or("(disabled)");
    let _ = writeln!(out, "control_socket: {socket}");
    if let Some(s) = &cfg.global.syslog {
        let o = &s.output;
        let _ = writeln!(
            out,
            "syslog: {} -> {} ({}), as the log source `syslog`",
            s.path,
            show_target(cfg, &o.stdout),
            o.format_for(&o.stdout).as_str()
        );
    }
    if let Some(tz) = &cfg.time_zone {
        let _ = writeln!(out, "schedule times: {tz}");
    }
    if let Some(addr) = cfg.global.http {
        let _ = writeln!(out, "http: {addr} (/readyz, /livez, /metrics)");
    }
    let _ = writeln!(
        out,
        "start order (each line starts once the lines above are up; a line starts in parallel):"
    );
    for (n, level) in cfg.plan.levels.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", n + 1, names(level));
    }
    let _ = writeln!(out, "stop order (the reverse):");
    for (n, level) in cfg.plan.levels.iter().rev().enumerate() {
        let _ = writeln!(out, "  {}. {}", n + 1, names(level));
    }
    out
}

/// One process: command, kind, dependencies, lifecycle, then the rest.
fn process(cfg: &Config, p: &ProcSpec, clock: Clock) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "\n[process.{}]", p.name);
    let _ = writeln!(out, "  command = {:?}", p.argv);
    let kind = if p.oneshot { "oneshot" } else { "long-running" };
    let role = match (p.main, p.manual_start) {
        (true, _) => ", main",
        (_, true) => ", started by `podinit start` only (start = \"manual\")",
        _ if p.on_demand => ", started by a connection to its sockets (start = \"on-demand\")",
        _ => "",
    };
    let _ = writeln!(out, "  kind = {kind}{role}");
    let deps: Vec<String> = p
        .deps
        .iter()
        .map(|d| format!("{} ({})", cfg.procs[d.on].name, d.cond.as_str()))
        .collect();
    let deps = if deps.is_empty() {
        "(none)".into()
    } else {
        deps.join(", ")
    };
    let _ = writeln!(out, "  depends_on = {deps}");
    let _ = writeln!(out, "  stop_signal = SIG{}", signal_name(p.stop_signal));
    let _ = writeln!(out, "  stop_timeout = {}", format_duration(p.stop_timeout));
    let _ = writeln!(out, "  success_codes = {:?}", p.success_codes);
    let fwd: Vec<String> = p.forward_signals.iter().map(signal_name).collect();
    let fwd = if p.forward_signals == all_forwardable() {
        "(all forwardable signals)".to_string()
    } else if fwd.is_empty() {
        "(none)".to_string()
    } else {
        fwd.join(", ")
    };
    let _ = writeln!(out, "  forward_signals = {fwd}");
    let _ = writeln!(
        out,
        "  restart = {} (delay {} doubling to {}, max_restarts {})",
        p.restart.as_str(),
        format_duration(p.restart_delay),
        format_duration(p.restart_delay_max),
        p.max_restarts
            .map_or("unlimited".to_string(), |n| n.to_string())
    );
    if p.critical {
        let _ = writeln!(out, "  critical = true");
    }
    out + &probes(p) + &identity(p) + &resources(p) + &output(cfg, p, clock)
}

/// Limits, scheduling and capabilities, when any is set.
fn resources(p: &ProcSpec) -> String {
    use super::resources::{UNLIMITED, cap_names};
    use std::fmt::Write;
    let r = &p.resources;
    let mut out = String::new();
    let show = |n: u64| match n {
        UNLIMITED => "unlimited".to_string(),
        n => n.to_string(),
    };
    for l in &r.rlimits {
        let v = match l.soft == l.hard {
            true => show(l.soft),
            false => format!("soft {}, hard {}", show(l.soft), show(l.hard)),
        };
        let _ = writeln!(out, "  rlimit {} = {v}", l.name);
    }
    if let Some(s) = r.oom_score_adj {
        let why = if r.oom_from_main {
            " (the main's: a sidecar scores no higher than its main)"
        } else {
            ""
        };
        let _ = writeln!(out, "  oom_score_adj = {s}{why}");
    }
    if let Some(n) = r.nice {
        let _ = writeln!(out, "  nice = {n}");
    }
    if !r.cpu_affinity.is_empty() {
        let _ = writeln!(out, "  cpu_affinity = {:?}", r.cpu_affinity);
    }
    if let Some(c) = r.caps {
        let _ = writeln!(
            out,
            "  capabilities: drop {:?}, add {:?}",
            cap_names(c.drop),
            cap_names(c.add)
        );
    }
    let g = &r.cgroup;
    for (key, v) in [
        ("memory_max", g.memory_max.map(show)),
        ("memory_high", g.memory_high.map(show)),
        (
            "cpu_max",
            g.cpu_max.map(|(q, per)| format!("{q} {per} (cpu.max)")),
        ),
        ("pids_max", g.pids_max.map(show)),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "  {key} = {v}");
        }
    }
    out
}

fn probes(p: &ProcSpec) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (key, probe) in [
        ("ready", &p.ready),
        ("readiness", &p.readiness),
        ("health", &p.health),
    ] {
        let Some(pr) = probe else { continue };
        let _ = write!(out, "  {key} = {}", pr.kind.describe());
        if pr.kind.is_polled() {
            let _ = write!(
                out,
                " every {} (timeout {}, initial_delay {})",
                format_duration(pr.interval),
                format_duration(pr.timeout),
                format_duration(pr.initial_delay)
            );
        }
        match key {
            "readiness" => {
                let _ = write!(
                    out,
                    ", not ready after {} failures, ready again after {} passes",
                    pr.failures, pr.successes
                );
            }
            _ if key == "health" || pr.failures > 0 => {
                let _ = write!(out, ", restart after {} failures", pr.failures);
            }
            _ => {}
        }
        let _ = writeln!(out);
    }
    for (key, hook) in [("post_start", &p.post_start), ("pre_stop", &p.pre_stop)] {
        if let Some(h) = hook {
            let _ = writeln!(out, "  {key} = {}", h.describe());
        }
    }
    out
}

fn identity(p: &ProcSpec) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (key, v) in [
        ("user", &p.user),
        ("group", &p.group),
        ("working_dir", &p.working_dir),
        ("env_file", &p.env_file),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "  {key} = {v}");
        }
    }
    if let Some(m) = p.umask {
        let _ = writeln!(out, "  umask = {m:03o}");
    }
    out
}

fn show_target(cfg: &Config, t: &Target) -> String {
    match t {
        Target::Console => "console".to_string(),
        Target::Null => "null".to_string(),
        Target::File(f) => format!("file:{f}"),
        Target::Process(i) => format!("process:{}", cfg.procs[*i].name),
        Target::Stdout => "stdout (one pipe for both)".to_string(),
    }
}

fn output(cfg: &Config, p: &ProcSpec, clock: Clock) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let show = |t: &Target| show_target(cfg, t);
    let err_fmt = if p.stderr == Target::Stdout {
        String::new()
    } else {
        format!(" ({})", p.format_for(&p.stderr).as_str())
    };
    let _ = writeln!(
        out,
        "  stdout = {} ({}), stderr = {}{err_fmt}",
        show(&p.stdout),
        p.format_for(&p.stdout).as_str(),
        show(&p.stderr),
    );
    if p.log_timestamps {
        let _ = writeln!(out, "  log_timestamps = true");
    }
    if let Some(s) = &p.schedule {
        let _ = writeln!(
            out,
            "  schedule = {} (no overlap: a run still going when the next is due skips it)",
            s.describe()
        );
        if let (super::Schedule::Cron(c), Some((now, zone))) = (&**s, clock) {
            let mut t = now;
            let mut next = Vec::new();
            for _ in 0..3 {
                let Some(n) = c.next_after(t, zone) else {
                    break;
                };
                next.push(super::schedule::format_local(n, zone));
                t = n;
            }
            let _ = writeln!(out, "  next runs: {}", next.join(", "));
        }
    }
    if p.no_new_privs {
        let _ = writeln!(out, "  no_new_privs = true");
    }
    if let Some(n) = p.log_max_size {
        let _ = writeln!(
            out,
            "  rotation: at {n} bytes, keeping {} files",
            p.log_max_files
        );
    }
    for (k, v) in &p.env {
        let _ = writeln!(out, "  env.{k} = {:?}", units::show_env_value(v));
    }
    out
}
