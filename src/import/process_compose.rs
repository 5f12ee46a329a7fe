//! A `process-compose.yaml`: each of `processes` as a podinit process,
//! run by the shell process-compose uses (`bash -c`, or `shell:`), with its
//! `depends_on` conditions, probes, availability, environment, working
//! directory, log location and replicas. What cannot be mapped is written
//! as a comment at its place with the reason.

use super::pod::Translated;
use super::yaml::Node;

/// Whether a YAML text is a process-compose file (a top-level `processes:`).
pub fn is_compose(text: &str) -> bool {
    text.lines().any(|l| l.trim_end() == "processes:")
}

/// A `KEY=value` list (or a mapping) as TOML `env` pairs.
fn env_list(n: Option<&Node>, path: &str) -> Result<Vec<(String, String)>, String> {
    let Some(n) = n else { return Ok(Vec::new()) };
    if let Some(m) = n.map() {
        return Ok(m
            .iter()
            .map(|(k, v)| (k.clone(), v.str().unwrap_or("").to_string()))
            .collect());
    }
    let seq = n
        .seq()
        .ok_or_else(|| format!("{path}: expected a list of KEY=value"))?;
    seq.iter()
        .enumerate()
        .map(|(i, e)| {
            let s = e.str().unwrap_or("");
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{path}[{i}]: {s:?} is not KEY=value"))
        })
        .collect()
}

/// Seconds of a probe or shutdown key (default when absent).
fn secs(n: &Node, key: &str, default: i64, path: &str) -> Result<i64, String> {
    match n.get(key) {
        None => Ok(default),
        Some(v) => v
            .int()
            .filter(|x| *x >= 0)
            .ok_or_else(|| format!("{path}.{key}: expected a non-negative integer")),
    }
}

pub fn translate(text: &str, file: &str) -> Result<Translated, String> {
    let docs = super::yaml::parse(text, file)?;
    let doc = docs
        .first()
        .ok_or_else(|| format!("{file}: an empty document"))?;
    let procs = doc
        .get("processes")
        .and_then(Node::map)
        .ok_or_else(|| format!("{file}: processes: is missing or not a mapping"))?;
    let shell = doc
        .get("shell")
        .map(|s| {
            let cmd = s.get("shell_command").and_then(Node::str).unwrap_or("bash");
            let arg = s.get("shell_argument").and_then(Node::str).unwrap_or("-c");
            (cmd.to_string(), arg.to_string())
        })
        .unwrap_or(("bash".into(), "-c".into()));
    let global_env = env_list(doc.get("environment"), "environment")?;
    let mut report = Vec::new();
    let mut out = format!("# podinit TOML for {file}, as `podinit import` writes it.\n");
    for (k, _) in doc.map().unwrap_or(&[]) {
        match k.as_str() {
            "processes" | "shell" | "environment" => report.push(format!("{k}: honoured")),
            "version" | "log_level" | "is_strict" => {
                report.push(format!("{k}: ignored (process-compose's own)"))
            }
            other => {
                out += &format!("# {other}: not mapped: not known to podinit\n");
                report.push(format!("{other}: ignored (not known to podinit)"));
            }
        }
    }
    let mut any_main = false;
    for (name, p) in procs {
        let (text, main) = process(name, p, &shell, &global_env, procs, &mut report)?;
        any_main |= main;
        out += &text;
    }
    if !any_main {
        out += "\n# process-compose (with -t=false) ends when every process has ended: so does this pod\n";
    }
    Ok(Translated { toml: out, report })
}

/// One process (its replicas); whether it ends the pod. Long on purpose:
/// one arm per process-compose key, each mapped or written down with why.
fn process(
    name: &str,
    p: &Node,
    shell: &(String, String),
    global_env: &[(String, String)],
    all: &[(String, Node)],
    report: &mut Vec<String>,
) -> Result<(String, bool), String> {
    let q = crate::json::quoted;
    let path = format!("processes.{name}");
    let command = p
        .get("command")
        .and_then(Node::str)
        .ok_or_else(|| format!("{path}.command: is missing"))?;
    let replicas = match p.get("replicas") {
        None => 1,
        Some(n) => n
            .int()
            .filter(|r| *r >= 1)
            .ok_or_else(|| format!("{path}.replicas: expected a number of at least 1"))?,
    };
    let mut body = String::new();
    if awaited_to_complete(name, all) {
        // A process others wait on to complete runs to completion.
        body += "oneshot = true\n";
    }
    let mut main = false;
    let mut env: Vec<(String, String)> = global_env.to_vec();
    for (k, v) in p.map().unwrap_or(&[]) {
        let kp = format!("{path}.{k}");
        let mut say = |how: &str| report.push(format!("{kp}: {how}"));
        match k.as_str() {
            "command" | "replicas" | "environment" | "depends_on" | "readiness_probe"
            | "liveness_probe" | "ready_log_line" => say("honoured"),
            "working_dir" => {
                say("honoured");
                body += &format!("working_dir = {}\n", q(v.str().unwrap_or(".")));
            }
            "log_location" => {
                say("honoured");
                let f = q(&format!("file:{}", v.str().unwrap_or("")));
                body += &format!("stdout = {f}\nstderr = \"stdout\"\n");
            }
            "disabled" if v.bool() == Some(true) => {
                say("honoured");
                body += "enabled = false\n";
            }
            "disabled" => say("honoured"),
            "availability" => {
                say("honoured");
                let (t, m) = availability(v, &kp)?;
                body += &t;
                main |= m;
            }
            "shutdown" => {
                say("honoured");
                body += &shutdown(v, &kp, shell)?;
            }
            "description" | "namespace" => say("ignored (process-compose's TUI)"),
            other => {
                say("ignored (not known to podinit)");
                body += &format!("# {other}: not mapped: not known to podinit\n");
            }
        }
    }
    if p.get("availability").is_none() {
        body += "restart = \"never\"  # process-compose's default\n";
    }
    env.extend(env_list(
        p.get("environment"),
        &format!("{path}.environment"),
    )?);
    body += &depends(p, &path, all)?;
    body += &probes(p, &path, shell)?;
    let mut text = String::new();
    for r in 0..replicas {
        let n = if replicas > 1 {
            format!("{name}-{r}")
        } else {
            name.to_string()
        };
        text += &format!(
            "\n[process.{}]\ncommand = [{}, {}, {}]\n",
            q(&n),
            q(&shell.0),
            q(&shell.1),
            q(&command.replace('$', "$$"))
        );
        let mut e = env.clone();
        if replicas > 1 {
            e.push(("PC_REPLICA_NUM".into(), r.to_string()));
        }
        if !e.is_empty() {
            let pairs: Vec<String> = e
                .iter()
                .map(|(k, v)| format!("{} = {}", q(k), q(&v.replace('$', "$$"))))
                .collect();
            text += &format!("env = {{ {} }}\n", pairs.join(", "));
        }
        text += &body;
    }
    Ok((text, main))
}

/// Whether some process waits for `name` with `process_completed_successfully`.
fn awaited_to_complete(name: &str, all: &[(String, Node)]) -> bool {
    all.iter().any(|(_, p)| {
        p.get("depends_on")
            .and_then(|d| d.get(name))
            .and_then(|c| c.get("condition"))
            .and_then(Node::str)
            == Some("process_completed_successfully")
    })
}

/// `availability`: restart policy, backoff, max restarts, exit_on_end;
/// whether it ends the pod.
fn availability(a: &Node, path: &str) -> Result<(String, bool), String> {
    let mut t = String::new();
    let restart = a.get("restart").and_then(Node::str).unwrap_or("no");
    t += match restart {
        "no" => "restart = \"never\"\n",
        "always" => "restart = \"always\"\n",
        "on_failure" => "restart = \"on-failure\"\n",
        "exit_on_failure" => "restart = \"never\"\ncritical = true  # exit_on_failure\n",
        other => {
            return Err(format!(
                "{path}.restart: {other:?}: expected no, always, on_failure or exit_on_failure"
            ));
        }
    };
    if a.get("backoff_seconds").is_some() {
        t += &format!(
            "restart_delay = \"{}s\"\nrestart_delay_max = \"{0}s\"  # process-compose waits the same each time\n",
            secs(a, "backoff_seconds", 1, path)?
        );
    }
    if a.get("max_restarts").is_some() {
        t += &format!("max_restarts = {}\n", secs(a, "max_restarts", 0, path)?);
    }
    let main = a.get("exit_on_end").and_then(Node::bool) == Some(true);
    if main {
        t += "main = true  # exit_on_end\n";
    }
    Ok((t, main))
}

/// `shutdown`: signal and timeout; a `command` runs as the `pre_stop`.
fn shutdown(s: &Node, path: &str, shell: &(String, String)) -> Result<String, String> {
    let q = crate::json::quoted;
    let mut t = String::new();
    if let Some(sig) = s.get("signal") {
        let n = sig
            .int()
            .ok_or_else(|| format!("{path}.signal: expected a signal number"))?;
        t += &format!("stop_signal = {n}\n");
    }
    if s.get("timeout_seconds").is_some() {
        t += &format!(
            "stop_timeout = \"{}s\"\n",
            secs(s, "timeout_seconds", 10, path)?
        );
    }
    if let Some(c) = s.get("command").and_then(Node::str) {
        t += &format!(
            "pre_stop = {{ exec = [{}, {}, {}] }}  # process-compose runs it instead of the signal; podinit signals after it\n",
            q(&shell.0),
            q(&shell.1),
            q(c)
        );
    }
    Ok(t)
}

/// `depends_on` with process-compose's conditions.
fn depends(p: &Node, path: &str, all: &[(String, Node)]) -> Result<String, String> {
    let Some(deps) = p.get("depends_on").and_then(Node::map) else {
        return Ok(String::new());
    };
    let q = crate::json::quoted;
    let mut pairs = Vec::new();
    for (d, c) in deps {
        let cp = format!("{path}.depends_on.{d}.condition");
        let target = all
            .iter()
            .find(|(n, _)| n == d)
            .ok_or_else(|| format!("{path}.depends_on.{d}: no process is named {d:?}"))?;
        let replicated = target.1.get("replicas").and_then(Node::int).unwrap_or(1) > 1;
        let cond = match c
            .get("condition")
            .and_then(Node::str)
            .unwrap_or("process_started")
        {
            "process_started" => "started",
            "process_healthy" | "process_log_ready" => "ready",
            "process_completed_successfully" => "completed",
            "process_completed" => {
                return Err(format!(
                    "{cp}: process_completed (any exit) has no podinit condition; use process_completed_successfully"
                ));
            }
            other => {
                return Err(format!(
                    "{cp}: {other:?} is not a process-compose condition"
                ));
            }
        };
        if replicated {
            return Err(format!(
                "{path}.depends_on.{d}: {d} has replicas; name one of them (podinit has no group condition yet)"
            ));
        }
        pairs.push(format!("{} = \"{cond}\"", q(d)));
    }
    Ok(format!("depends_on = {{ {} }}\n", pairs.join(", ")))
}

/// `readiness_probe` (or `ready_log_line`) as `ready`, `liveness_probe` as `health`.
fn probes(p: &Node, path: &str, shell: &(String, String)) -> Result<String, String> {
    let q = crate::json::quoted;
    let mut t = String::new();
    if let Some(line) = p.get("ready_log_line").and_then(Node::str) {
        t += &format!("ready = {{ log = {} }}\n", q(line));
    }
    for (key, ours) in [("readiness_probe", "ready"), ("liveness_probe", "health")] {
        let Some(pr) = p.get(key) else { continue };
        if ours == "ready" && p.get("ready_log_line").is_some() {
            return Err(format!(
                "{path}.{key}: and ready_log_line: podinit has one readiness gate per process"
            ));
        }
        let pp = format!("{path}.{key}");
        let kind = if let Some(e) = pr.get("exec") {
            let c = e
                .get("command")
                .and_then(Node::str)
                .ok_or_else(|| format!("{pp}.exec.command: is missing"))?;
            format!("exec = [{}, {}, {}]", q(&shell.0), q(&shell.1), q(c))
        } else if let Some(h) = pr.get("http_get") {
            if h.get("scheme")
                .and_then(Node::str)
                .is_some_and(|s| s != "http")
            {
                return Err(format!(
                    "{pp}.http_get.scheme: podinit's probes speak plain HTTP"
                ));
            }
            let host = h.get("host").and_then(Node::str).unwrap_or("127.0.0.1");
            let port = h
                .get("port")
                .and_then(Node::int)
                .ok_or_else(|| format!("{pp}.http_get.port: expected a port number"))?;
            let p_ = h.get("path").and_then(Node::str).unwrap_or("/");
            format!("http = {}", q(&format!("http://{host}:{port}{p_}")))
        } else {
            return Err(format!("{pp}: needs exec or http_get"));
        };
        t += &format!(
            "{ours} = {{ {kind}, interval = \"{}s\", timeout = \"{}s\", initial_delay = \"{}s\"",
            secs(pr, "period_seconds", 10, &pp)?.max(1),
            secs(pr, "timeout_seconds", 1, &pp)?.max(1),
            secs(pr, "initial_delay_seconds", 0, &pp)?
        );
        if ours == "health" {
            t += &format!(
                ", failures = {}",
                secs(pr, "failure_threshold", 3, &pp)?.max(1)
            );
        }
        t += " }\n";
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_map_with_their_conditions() {
        let y = "version: \"0.5\"\nenvironment: [\"G=1\"]\nprocesses:\n  db:\n    command: \"postgres\"\n    readiness_probe:\n      exec: {command: \"pg_isready\"}\n      period_seconds: 2\n  web:\n    command: \"web $PORT\"\n    working_dir: /app\n    environment: [\"PORT=8080\"]\n    depends_on:\n      db: {condition: process_healthy}\n    availability: {restart: on_failure, backoff_seconds: 2, max_restarts: 5, exit_on_end: true}\n    log_location: /tmp/web.log\n    replicas: 2\n    liveness_probe:\n      http_get: {host: 127.0.0.1, port: 8080, path: /healthz}\n";
        let t = translate(y, "process-compose.yaml").unwrap().toml;
        assert!(t.contains("[process.\"db\"]\ncommand = [\"bash\", \"-c\", \"postgres\"]\nenv = { \"G\" = \"1\" }\n"), "{t}");
        assert!(
            t.contains("ready = { exec = [\"bash\", \"-c\", \"pg_isready\"], interval = \"2s\""),
            "{t}"
        );
        assert!(
            t.contains("[process.\"web-1\"]\ncommand = [\"bash\", \"-c\", \"web $$PORT\"]"),
            "{t}"
        );
        assert!(
            t.contains("\"PORT\" = \"8080\", \"PC_REPLICA_NUM\" = \"1\""),
            "{t}"
        );
        assert!(t.contains("depends_on = { \"db\" = \"ready\" }"), "{t}");
        assert!(
            t.contains("restart = \"on-failure\"\nrestart_delay = \"2s\""),
            "{t}"
        );
        assert!(t.contains("max_restarts = 5\nmain = true"), "{t}");
        assert!(
            t.contains("stdout = \"file:/tmp/web.log\"\nstderr = \"stdout\""),
            "{t}"
        );
        assert!(
            t.contains("health = { http = \"http://127.0.0.1:8080/healthz\""),
            "{t}"
        );
        let bad = "processes:\n  a:\n    command: x\n    depends_on:\n      b: {condition: process_healthy}\n";
        assert!(
            translate(bad, "p.yaml")
                .unwrap_err()
                .contains("processes.a.depends_on.b: no process")
        );
        assert!(is_compose("version: 1\nprocesses:\n  a: {}\n"));
    }
}
