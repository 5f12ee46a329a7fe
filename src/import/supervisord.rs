//! A `supervisord.conf`: each `[program:x]` as a podinit process, its
//! settings mapped one by one; what has no meaning here is written as a
//! comment at its place with the reason. supervisord runs until stopped:
//! no process is a main. `priority` orders the start (lower first, each
//! group after the one before has started) and so the stop (reverse).

use super::pod::Translated;

/// One `[section]`: its name, its `key = value` lines with line numbers.
struct Section {
    name: String,
    line: usize,
    keys: Vec<(String, String, usize)>,
}

/// The INI text as supervisord reads it: `;` and `#` comments (a `;`
/// after whitespace ends a value), continuation lines indented.
fn sections(text: &str, file: &str) -> Result<Vec<Section>, String> {
    let mut out: Vec<Section> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with(';') || t.starts_with('#') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            out.push(Section {
                name: name.trim().to_string(),
                line,
                keys: Vec::new(),
            });
            continue;
        }
        let Some(sec) = out.last_mut() else {
            return Err(format!("{file}:{line}: a setting before any [section]"));
        };
        if raw.starts_with([' ', '\t']) && !sec.keys.is_empty() {
            if let Some(last) = sec.keys.last_mut() {
                last.1 = format!("{} {}", last.1, strip_comment(t));
            }
            continue;
        }
        let (k, v) = t
            .split_once('=')
            .or_else(|| t.split_once(':'))
            .ok_or_else(|| format!("{file}:{line}: expected `key = value`"))?;
        sec.keys.push((
            k.trim().to_lowercase(),
            strip_comment(v.trim()).to_string(),
            line,
        ));
    }
    Ok(out)
}

fn strip_comment(v: &str) -> &str {
    match v.find(" ;").or_else(|| v.find("\t;")) {
        Some(i) => v[..i].trim_end(),
        None => v,
    }
}

fn truthy(v: &str) -> Option<bool> {
    match v.to_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// supervisord's `%(name)s` expansions: ENV_X as podinit's `${X}`, the
/// program's name and number, `here`; anything else is an error.
fn expand(v: &str, name: &str, num: u32, here: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("%(") {
        out += &rest[..i].replace('$', "$$");
        let after = &rest[i + 2..];
        let close = after
            .find(')')
            .ok_or_else(|| format!("unclosed %( in {v:?}"))?;
        let key = &after[..close];
        let conv = &after[close + 1..];
        let spec_len = conv
            .find(|c: char| c.is_ascii_alphabetic())
            .map(|k| k + 1)
            .ok_or_else(|| format!("%({key}) without a conversion in {v:?}"))?;
        let spec = &conv[..spec_len];
        out += &match key {
            k if k.starts_with("ENV_") => format!("${{{}}}", &k[4..]),
            "program_name" | "group_name" => name.to_string(),
            "process_num" => {
                let width: usize = spec
                    .trim_end_matches('d')
                    .trim_start_matches('0')
                    .parse()
                    .unwrap_or(0);
                format!("{num:0width$}")
            }
            "here" => here.to_string(),
            "host_node_name" => "${HOSTNAME}".to_string(),
            other => return Err(format!("%({other}){spec} is not known to podinit's import")),
        };
        rest = &conv[spec_len..];
    }
    out += &rest.replace('$', "$$");
    Ok(out)
}

/// `environment=A="1",B=two` as TOML pairs.
fn environment(v: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut parts = Vec::new();
    for c in v.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(o)) if q == o => quote = None,
            (',', None) => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    for p in parts {
        if let Some((k, val)) = p.split_once('=') {
            out.push((k.trim().to_string(), val.trim().to_string()));
        }
    }
    out
}

/// A log file setting as a podinit target (None: the default, console).
fn log_target(v: &str) -> Result<Option<String>, String> {
    Ok(match v {
        "NONE" => Some("null".into()),
        "AUTO" | "" => None,
        "/dev/stdout" | "/dev/stderr" | "/dev/fd/1" | "/dev/fd/2" => Some("console".into()),
        "syslog" => return Err("syslog: podinit routes output itself".into()),
        path => Some(format!("file:{path}")),
    })
}

pub fn translate(text: &str, file: &str) -> Result<Translated, String> {
    let q = crate::json::quoted;
    let here = std::path::Path::new(file)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ".".into());
    let secs = sections(text, file)?;
    let mut report = Vec::new();
    let mut out = format!("# podinit TOML for {file}, as `podinit import` writes it.\n");
    // (priority, process names) groups, in start order.
    let mut groups: Vec<(i64, Vec<String>)> = Vec::new();
    let mut body: Vec<(i64, String, String)> = Vec::new();
    for s in &secs {
        let Some(prog) = s.name.strip_prefix("program:") else {
            let why = match s.name.as_str() {
                "supervisord" => "podinit is the supervisor: its own settings are in [podinit]",
                "supervisorctl" | "unix_http_server" | "inet_http_server" => {
                    "podinit's control socket and HTTP endpoint take its place"
                }
                "include" => "not followed: import each file, or merge them as drop-ins",
                _ if s.name.starts_with("group:") => {
                    "groups are not kept: each program is a process"
                }
                _ if s.name.starts_with("eventlistener:") => "event listeners are not supported",
                _ => "not known to podinit",
            };
            out += &format!("# [{}] (line {}): not mapped: {why}\n", s.name, s.line);
            report.push(format!("[{}]: ignored ({why})", s.name));
            continue;
        };
        for (name, prio, text) in program(prog.trim(), s, file, &here, &mut report)? {
            match groups.iter_mut().find(|(p, _)| *p == prio) {
                Some((_, names)) => names.push(name.clone()),
                None => groups.push((prio, vec![name.clone()])),
            }
            body.push((prio, name, text));
        }
    }
    if body.is_empty() {
        return Err(format!("{file}: no [program:NAME] section"));
    }
    groups.sort_by_key(|(p, _)| *p);
    for (prio, _, mut text) in body {
        let k = groups.iter().position(|(p, _)| *p == prio).unwrap_or(0);
        if k > 0 {
            let deps: Vec<String> = groups[k - 1]
                .1
                .iter()
                .map(|d| format!("{} = \"started\"", q(d)))
                .collect();
            text += &format!(
                "depends_on = {{ {} }}  # priority {prio}: after the lower priorities\n",
                deps.join(", ")
            );
        }
        out += &text;
    }
    Ok(Translated { toml: out, report })
}

/// One `[program:x]`: its processes (numprocs of them), each with its
/// priority and TOML. Long on purpose: one arm per supervisord key, each
/// mapped or written down as a comment with why.
fn program(
    prog: &str,
    s: &Section,
    file: &str,
    here: &str,
    report: &mut Vec<String>,
) -> Result<Vec<(String, i64, String)>, String> {
    let q = crate::json::quoted;
    let get = |k: &str| s.keys.iter().find(|(n, _, _)| n == k);
    let at = |k: &str| get(k).map_or(s.line, |(_, _, l)| *l);
    let bad = |k: &str, why: String| format!("{file}:{}: program:{prog}: {k}: {why}", at(k));
    let numprocs: u32 = match get("numprocs") {
        None => 1,
        Some((_, v, _)) => v
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad("numprocs", format!("{v:?} is not a number of at least 1")))?,
    };
    let start: u32 = match get("numprocs_start") {
        None => 0,
        Some((_, v, _)) => v
            .parse()
            .map_err(|_| bad("numprocs_start", format!("{v:?} is not a number")))?,
    };
    let priority: i64 = match get("priority") {
        None => 999,
        Some((_, v, _)) => v
            .parse()
            .map_err(|_| bad("priority", format!("{v:?} is not a number")))?,
    };
    let command = get("command").ok_or_else(|| bad("command", "is missing".into()))?;
    let mut out = Vec::new();
    for i in 0..numprocs {
        let num = start + i;
        let name = match get("process_name") {
            Some((_, v, _)) => expand(v, prog, num, here).map_err(|e| bad("process_name", e))?,
            None if numprocs > 1 => format!("{prog}_{num:02}"),
            None => prog.to_string(),
        };
        let x = |k: &str, v: &str| expand(v, prog, num, here).map_err(|e| bad(k, e));
        let mut t = format!("\n[process.{}]\n", q(&name));
        t += &format!("command = {}\n", q(&x("command", &command.1)?));
        let mut autorestart = "unexpected".to_string();
        let mut exitcodes = "0".to_string();
        let mut redirect = false;
        for (k, v, line) in &s.keys {
            let mut say =
                |how: &str| report.push(format!("[program:{prog}].{k} (line {line}): {how}"));
            match k.as_str() {
                "command" | "numprocs" | "numprocs_start" | "process_name" | "priority" => {
                    say("honoured")
                }
                "directory" => {
                    say("honoured");
                    t += &format!("working_dir = {}\n", q(&x(k, v)?));
                }
                "user" => {
                    say("honoured");
                    t += &format!("user = {}\n", q(v));
                }
                "umask" => {
                    say("honoured");
                    t += &format!("umask = {}\n", q(v));
                }
                "environment" => {
                    say("honoured");
                    let pairs: Vec<String> = environment(&x(k, v)?)
                        .iter()
                        .map(|(a, b)| format!("{} = {}", q(a), q(b)))
                        .collect();
                    t += &format!("env = {{ {} }}\n", pairs.join(", "));
                }
                "autostart" => {
                    say("honoured");
                    if truthy(v) == Some(false) {
                        t += "start = \"manual\"\n";
                    }
                }
                "autorestart" => {
                    say("honoured");
                    autorestart = v.to_lowercase();
                }
                "exitcodes" => {
                    say("honoured");
                    exitcodes = v.clone();
                }
                "startretries" => {
                    say("honoured");
                    t += &format!(
                        "max_restarts = {}\n",
                        v.parse::<u32>()
                            .map_err(|_| bad(k, format!("{v:?} is not a number")))?
                    );
                }
                "startsecs" => {
                    say(
                        "ignored (podinit counts a run as started when it is spawned; use a ready probe)",
                    );
                    t += &format!(
                        "# startsecs = {v}: not mapped: a run is started once spawned; give it a `ready` probe to gate dependents\n"
                    );
                }
                "stopsignal" => {
                    say("honoured");
                    t += &format!("stop_signal = {}\n", q(v.trim_start_matches("SIG")));
                }
                "stopwaitsecs" => {
                    say("honoured");
                    t += &format!(
                        "stop_timeout = \"{}s\"\n",
                        v.parse::<u64>()
                            .map_err(|_| bad(k, format!("{v:?} is not a number")))?
                    );
                }
                "stopasgroup" | "killasgroup" => {
                    say("honoured (podinit always signals the process group)");
                    if truthy(v) == Some(false) {
                        t += &format!(
                            "# {k} = false: podinit signals the whole process group all the same\n"
                        );
                    }
                }
                "redirect_stderr" => {
                    say("honoured");
                    redirect = truthy(v) == Some(true);
                }
                "stdout_logfile" => {
                    say("honoured");
                    if let Some(target) = log_target(&x(k, v)?).map_err(|e| bad(k, e))? {
                        t += &format!("stdout = {}\n", q(&target));
                    }
                }
                "stderr_logfile" => {
                    say("honoured");
                    if let Some(target) = log_target(&x(k, v)?).map_err(|e| bad(k, e))? {
                        t += &format!("stderr = {}\n", q(&target));
                    }
                }
                "stdout_logfile_maxbytes" => {
                    say("honoured");
                    if v != "0" {
                        t += &format!("log_max_size = {}\n", q(v));
                    }
                }
                "stdout_logfile_backups" => {
                    say("honoured");
                    t += &format!(
                        "log_max_files = {}\n",
                        v.parse::<u32>()
                            .map_err(|_| bad(k, format!("{v:?} is not a number")))?
                    );
                }
                _ => {
                    say("ignored (not known to podinit)");
                    t += &format!("# {k} = {v}: not mapped: not known to podinit\n");
                }
            }
        }
        if redirect {
            t += "stderr = \"stdout\"\n";
        }
        let codes: Vec<String> = exitcodes.split(',').map(|c| c.trim().to_string()).collect();
        if codes.iter().any(|c| c.parse::<u8>().is_err()) {
            return Err(bad(
                "exitcodes",
                format!("{exitcodes:?} is not a list of exit codes"),
            ));
        }
        t += &format!("success_codes = [{}]\n", codes.join(", "));
        t += &format!(
            "restart = \"{}\"\n",
            match autorestart.as_str() {
                "true" => "always",
                "false" => "never",
                "unexpected" => "on-failure",
                other =>
                    return Err(bad(
                        "autorestart",
                        format!("{other:?}: expected true, false or unexpected")
                    )),
            }
        );
        out.push((name, priority, t));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_map_key_by_key() {
        let conf = "[supervisord]\nnodaemon=true\n\n[program:web]\ncommand=/usr/bin/web --port %(ENV_PORT)s ; the server\ndirectory=/srv\nautorestart=true\nenvironment=A=\"1,2\",B=two\nstopsignal=QUIT\nstopwaitsecs=20\nredirect_stderr=true\nstdout_logfile=/var/log/web.log\npriority=10\n\n[program:worker]\ncommand=work %(process_num)02d\nnumprocs=2\nexitcodes=0,2\nautostart=false\nstartsecs=5\n";
        let t = translate(conf, "/etc/supervisord.conf").unwrap().toml;
        assert!(
            t.contains("[process.\"web\"]\ncommand = \"/usr/bin/web --port ${PORT}\"\n"),
            "{t}"
        );
        assert!(
            t.contains("env = { \"A\" = \"1,2\", \"B\" = \"two\" }"),
            "{t}"
        );
        assert!(
            t.contains("stop_signal = \"QUIT\"\nstop_timeout = \"20s\"\n"),
            "{t}"
        );
        assert!(t.contains("stdout = \"file:/var/log/web.log\"\n"), "{t}");
        assert!(t.contains("stderr = \"stdout\"\n"), "{t}");
        assert!(t.contains("restart = \"always\""), "{t}");
        assert!(
            t.contains("[process.\"worker_00\"]\ncommand = \"work 00\""),
            "{t}"
        );
        assert!(
            t.contains("[process.\"worker_01\"]\ncommand = \"work 01\""),
            "{t}"
        );
        assert!(
            t.contains("success_codes = [0, 2]\nrestart = \"on-failure\""),
            "{t}"
        );
        assert!(t.contains("start = \"manual\""), "{t}");
        assert!(t.contains("# startsecs = 5: not mapped"), "{t}");
        assert!(t.contains("depends_on = { \"web\" = \"started\" }"), "{t}");
        assert!(t.contains("# [supervisord] (line 1): not mapped"), "{t}");
        let e = translate("[program:x]\ncommand=a\nautorestart=maybe\n", "s.conf").unwrap_err();
        assert!(
            e.contains("s.conf:3: program:x: autorestart: \"maybe\""),
            "{e}"
        );
        let e = translate("[program:x]\ndirectory=/\n", "s.conf").unwrap_err();
        assert!(e.contains("program:x: command: is missing"), "{e}");
    }
}
