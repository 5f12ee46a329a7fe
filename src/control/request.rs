//! What a request asks for, decided without a socket or a supervisor: the
//! protocol line parsed, every verb's arguments (`-n`, `-f`, `--json`,
//! `--live`) read, and each process name looked up once, with one error
//! text, in the current processes the runtime passes in. The runtime feeds
//! the result to the supervisor (or the router) and writes the reply.

use super::PROTOCOL;
use crate::supervisor::{Check, Control};

/// The verbs of the protocol, parsed once (the command line, the server
/// and the client share them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Status,
    Health,
    Events,
    Logs,
    Start,
    Stop,
    Restart,
    Signal,
    Reload,
    Scale,
}

impl Verb {
    pub const ALL: [Verb; 10] = [
        Verb::Status,
        Verb::Health,
        Verb::Events,
        Verb::Logs,
        Verb::Start,
        Verb::Stop,
        Verb::Restart,
        Verb::Signal,
        Verb::Reload,
        Verb::Scale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Status => "status",
            Verb::Health => "health",
            Verb::Events => "events",
            Verb::Logs => "logs",
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Restart => "restart",
            Verb::Signal => "signal",
            Verb::Reload => "reload",
            Verb::Scale => "scale",
        }
    }

    pub fn parse(word: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == word)
    }
}

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub verb: Verb,
    pub args: Vec<String>,
}

/// The protocol line: its verb and its words.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let mut words = line.split_ascii_whitespace();
    match words.next() {
        Some(PROTOCOL) => {}
        Some(other) => {
            return Err(format!(
                "unsupported protocol {other:?}; this podinit speaks {PROTOCOL}"
            ));
        }
        None => return Err("empty request".into()),
    }
    let word = words.next().ok_or("no verb")?;
    let verb = Verb::parse(word).ok_or_else(|| format!("unknown verb {word:?}"))?;
    Ok(Request {
        verb,
        args: words.map(str::to_string).collect(),
    })
}

/// What a request asks of the runtime.
#[derive(Debug, PartialEq, Eq)]
pub enum Asked {
    /// The status of these processes (every current one when none is named).
    Status(Vec<usize>),
    Health(Check),
    /// Follow the pod's events.
    Events {
        json: bool,
    },
    /// The last `lines` lines of a process; with `follow`, then its output.
    Logs {
        idx: usize,
        lines: usize,
        follow: bool,
    },
    /// Inputs for the supervisor, in order (start, stop, restart, signal,
    /// reload).
    Commands(Vec<Control>),
    /// `scale NAME N`: run N replicas of NAME (a reload with that count).
    Scale {
        name: String,
        replicas: u32,
    },
}

/// The processes `name` names: itself, or — a name with no process of
/// its own — its replicas (NAME-0, …).
fn find_all(current: &[(usize, &str)], name: &str) -> Result<Vec<usize>, String> {
    if let Some(&(i, _)) = current.iter().find(|(_, n)| *n == name) {
        return Ok(vec![i]);
    }
    let group: Vec<usize> = current
        .iter()
        .filter(|(_, n)| {
            n.strip_prefix(name)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|&(i, _)| i)
        .collect();
    if !group.is_empty() {
        return Ok(group);
    }
    let names: Vec<&str> = current.iter().map(|&(_, n)| n).collect();
    Err(format!(
        "unknown process {name:?} (processes: {})",
        names.join(", ")
    ))
}

/// How many lines `logs` gives without `-n`.
pub const DEFAULT_LINES: usize = 30;

/// Decides what `line` asks for; `current` holds the current processes'
/// indices and names. `Err` is the reply's error message.
pub fn decide(line: &str, current: &[(usize, &str)]) -> Result<Asked, String> {
    let req = parse_request(line)?;
    let find_all = |name: &str| find_all(current, name);
    let find = |name: &str| one(current, name);
    let names = |args: &[String]| -> Result<Vec<usize>, String> {
        let mut out = Vec::new();
        for a in args.iter().filter(|a| !a.starts_with("--")) {
            out.extend(find_all(a)?);
        }
        Ok(out)
    };
    let flag = |f: &str| req.args.iter().any(|a| a == f);
    Ok(match req.verb {
        Verb::Status => {
            let ids = names(&req.args)?;
            Asked::Status(if ids.is_empty() {
                current.iter().map(|&(i, _)| i).collect()
            } else {
                ids
            })
        }
        Verb::Health if flag("--live") => Asked::Health(Check::Live),
        Verb::Health => Asked::Health(Check::Ready),
        Verb::Events => Asked::Events {
            json: flag("--json"),
        },
        Verb::Logs => logs(&req.args, &find)?,
        Verb::Start | Verb::Stop | Verb::Restart => {
            let ids = names(&req.args)?;
            if ids.is_empty() {
                return Err(format!(
                    "{} needs at least one process name",
                    req.verb.as_str()
                ));
            }
            let each = match req.verb {
                Verb::Start => Control::Start,
                Verb::Stop => Control::Stop,
                // One at a time, each after the one before is ready again.
                _ if flag("--rolling") => Control::Rolling,
                _ => Control::Restart,
            };
            Asked::Commands(ids.into_iter().map(each).collect())
        }
        Verb::Signal => {
            let [name, sig] = req.args.as_slice() else {
                return Err("usage: signal NAME SIGNAL".into());
            };
            let sig = crate::config::units::parse_signal(sig)?;
            let ids = find_all(name)?;
            Asked::Commands(ids.into_iter().map(|i| Control::Signal(i, sig)).collect())
        }
        Verb::Reload => Asked::Commands(vec![Control::Reload]),
        Verb::Scale => scale(&req.args)?,
    })
}

/// The one process `name` names (a group of replicas is refused).
fn one(current: &[(usize, &str)], name: &str) -> Result<usize, String> {
    match find_all(current, name)?.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!("{name} has replicas: name one ({name}-0, …)")),
    }
}

/// `scale NAME N`.
fn scale(args: &[String]) -> Result<Asked, String> {
    let [name, n] = args else {
        return Err("usage: scale NAME N".into());
    };
    let replicas = n
        .parse()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| format!("{n:?}: expected 1 to 1000 replicas"))?;
    Ok(Asked::Scale {
        name: name.clone(),
        replicas,
    })
}

/// `logs NAME [-n N] [-f]`.
fn logs(args: &[String], find: &dyn Fn(&str) -> Result<usize, String>) -> Result<Asked, String> {
    let mut name = None;
    let mut lines = DEFAULT_LINES;
    let mut follow = false;
    let mut words = args.iter();
    while let Some(a) = words.next() {
        match a.as_str() {
            "-f" => follow = true,
            "-n" => {
                lines = words
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("-n needs a number of lines")?;
            }
            _ => name = Some(a.as_str()),
        }
    }
    let name = name.ok_or("usage: logs NAME [-n N] [-f]")?;
    Ok(Asked::Logs {
        idx: find(name)?,
        lines,
        follow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODS: &[(usize, &str)] = &[(0, "db"), (2, "app")];

    fn ask(line: &str) -> Result<Asked, String> {
        decide(&format!("podinit/1 {line}"), PODS)
    }

    #[test]
    fn requests() {
        assert_eq!(
            parse_request("podinit/1 signal app USR1").unwrap(),
            Request {
                verb: Verb::Signal,
                args: vec!["app".into(), "USR1".into()]
            }
        );
        assert!(
            parse_request("podinit/1 launch app")
                .unwrap_err()
                .contains("unknown verb \"launch\"")
        );
        assert!(
            parse_request("podinit/2 status")
                .unwrap_err()
                .contains("unsupported protocol")
        );
        assert!(parse_request("").is_err());
        assert!(parse_request("podinit/1").is_err());
    }

    #[test]
    fn names_are_looked_up_once_with_one_error_text() {
        assert_eq!(ask("status"), Ok(Asked::Status(vec![0, 2])));
        assert_eq!(ask("status app --json"), Ok(Asked::Status(vec![2])));
        let unknown = r#"unknown process "web" (processes: db, app)"#;
        for verb in [
            "status web",
            "stop app web",
            "signal web TERM",
            "logs web -f",
        ] {
            assert_eq!(ask(verb), Err(unknown.to_string()), "{verb}");
        }
        assert_eq!(
            ask("restart db app"),
            Ok(Asked::Commands(vec![
                Control::Restart(0),
                Control::Restart(2)
            ]))
        );
        assert_eq!(
            ask("start"),
            Err("start needs at least one process name".into())
        );
    }

    #[test]
    fn each_verbs_arguments() {
        assert_eq!(
            ask("logs app"),
            Ok(Asked::Logs {
                idx: 2,
                lines: DEFAULT_LINES,
                follow: false
            })
        );
        assert_eq!(
            ask("logs -n 5 db -f"),
            Ok(Asked::Logs {
                idx: 0,
                lines: 5,
                follow: true
            })
        );
        assert_eq!(
            ask("logs app -n x"),
            Err("-n needs a number of lines".into())
        );
        assert_eq!(ask("logs"), Err("usage: logs NAME [-n N] [-f]".into()));
        assert_eq!(ask("events --json"), Ok(Asked::Events { json: true }));
        assert_eq!(ask("health --live"), Ok(Asked::Health(Check::Live)));
        assert_eq!(ask("health"), Ok(Asked::Health(Check::Ready)));
        assert_eq!(
            ask("signal app USR1"),
            Ok(Asked::Commands(vec![Control::Signal(2, libc::SIGUSR1)]))
        );
        assert_eq!(ask("signal app"), Err("usage: signal NAME SIGNAL".into()));
        assert!(ask("signal app NOPE").is_err());
        assert_eq!(ask("reload"), Ok(Asked::Commands(vec![Control::Reload])));
    }
}
