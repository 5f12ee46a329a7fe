//! The fields of a container: command and `$(VAR)`, env, security
//! context, resources, lifecycle and probes.

use super::{Ctx, Node, Role, lit, q, refuse};

/// `command` + `args`, `$(VAR)` expanded.
pub(super) fn argv(c: &Node, path: &str, env: &[(String, String)]) -> Result<Vec<String>, String> {
    let words = |key: &str| -> Result<Vec<String>, String> {
        match c.get(key) {
            None => Ok(Vec::new()),
            Some(n) => n
                .seq()
                .ok_or_else(|| refuse(&format!("{path}.{key}"), "must be a list of strings"))?
                .iter()
                .map(|w| {
                    w.str().map(|s| expand(s, env)).ok_or_else(|| {
                        refuse(&format!("{path}.{key}"), "must be a list of strings")
                    })
                })
                .collect(),
        }
    };
    let (command, args) = (words("command")?, words("args")?);
    if command.is_empty() {
        let why = if args.is_empty() {
            "is missing: there is no image entrypoint here; give the program and its arguments"
        } else {
            "is missing while args is given: there is no image entrypoint to run them with"
        };
        return Err(refuse(&format!("{path}.command"), why));
    }
    Ok(command.into_iter().chain(args).collect())
}

/// Kubernetes' `$(VAR)`: a variable set before it in `env`; `$$(VAR)` is
/// the text `$(VAR)`; an unknown one stays as it is.
pub fn expand(s: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix("$(") {
            out.push_str("$(");
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(')
            && let Some(end) = body.find(')')
        {
            let name = &body[..end];
            match env.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                _ => out.push_str(&format!("$({name})")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out + rest
}

/// `env` and `envFrom`: names and TOML values (a literal, or a secret file).
#[allow(clippy::type_complexity)]
/// Long on purpose: `envFrom` then `env`, in Kubernetes' order of
/// precedence, each entry's errors naming its path.
pub(super) fn env_vars(
    cx: &mut Ctx,
    c: &Node,
    path: &str,
) -> Result<(Vec<(String, String)>, Vec<(String, String)>), String> {
    let mut plain: Vec<(String, String)> = Vec::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, from) in c
        .get("envFrom")
        .and_then(Node::seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let p = format!("{path}.envFrom[{i}]");
        let prefix = from.get("prefix").and_then(Node::str).unwrap_or("");
        let (dir, reff) = match (from.get("secretRef"), from.get("configMapRef")) {
            (Some(r), None) => ("secrets", r),
            (None, Some(r)) => ("configmaps", r),
            _ => return Err(refuse(&p, "needs one of secretRef and configMapRef")),
        };
        let name = reff
            .get("name")
            .and_then(Node::str)
            .ok_or_else(|| refuse(&format!("{p}.name"), "is missing"))?;
        let d = format!("{}/{dir}/{name}", cx.kube_dir);
        let mut keys: Vec<String> = std::fs::read_dir(&d)
            .map_err(|e| {
                refuse(
                    &p,
                    &format!("{d}: {e} (a Secret or ConfigMap is read from files there)"),
                )
            })?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|k| !k.starts_with('.'))
            .collect();
        keys.sort();
        for k in keys {
            out.push((format!("{prefix}{k}"), q(&format!("${{file:{d}/{k}}}"))));
        }
    }
    for (i, e) in c
        .get("env")
        .and_then(Node::seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let p = format!("{path}.env[{i}]");
        let name = e
            .get("name")
            .and_then(Node::str)
            .ok_or_else(|| refuse(&format!("{p}.name"), "is missing"))?;
        let value = match (e.get("value"), e.get("valueFrom")) {
            (Some(v), None) => {
                let text = expand(v.str().unwrap_or(""), &plain);
                plain.push((name.to_string(), text.clone()));
                lit(&text)
            }
            (None, Some(from)) => {
                let (toml, known) = value_from(cx, from, &format!("{p}.valueFrom"))?;
                if let Some(v) = known {
                    plain.push((name.to_string(), v));
                }
                toml
            }
            (None, None) => lit(""),
            _ => return Err(refuse(&p, "has both value and valueFrom")),
        };
        out.retain(|(k, _)| k != name);
        out.push((name.to_string(), value));
    }
    Ok((out, plain))
}

/// `valueFrom`: a Secret's or ConfigMap's key as a file, or a pod field;
/// the value when it is known now (for `$(VAR)` after it).
fn value_from(cx: &Ctx, from: &Node, p: &str) -> Result<(String, Option<String>), String> {
    let key_ref = |dir: &str, r: &Node| -> Result<(String, Option<String>), String> {
        let name = r
            .get("name")
            .and_then(Node::str)
            .ok_or_else(|| refuse(&format!("{p}.name"), "is missing"))?;
        let key = r
            .get("key")
            .and_then(Node::str)
            .ok_or_else(|| refuse(&format!("{p}.key"), "is missing"))?;
        Ok((
            q(&format!("${{file:{}/{dir}/{name}/{key}}}", cx.kube_dir)),
            None,
        ))
    };
    if let Some(r) = from.get("secretKeyRef") {
        return key_ref("secrets", r);
    }
    if let Some(r) = from.get("configMapKeyRef") {
        return key_ref("configmaps", r);
    }
    let field = from
        .get("fieldRef")
        .and_then(|f| f.get("fieldPath"))
        .and_then(Node::str)
        .ok_or_else(|| {
            refuse(
                p,
                "only secretKeyRef, configMapKeyRef and fieldRef are kept",
            )
        })?;
    let label = field
        .strip_prefix("metadata.labels['")
        .and_then(|l| l.strip_suffix("']"));
    let value = match (field, label) {
        ("metadata.name", _) => cx.pod_name.clone(),
        ("metadata.namespace", _) => cx.namespace.clone(),
        (_, Some(l)) => cx
            .labels
            .iter()
            .find(|(k, _)| k == l)
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        ("spec.nodeName", _) => return Ok((q("${HOSTNAME:-localhost}"), None)),
        _ => {
            return Err(refuse(
                &format!("{p}.fieldRef.fieldPath"),
                &format!(
                    "{field:?}: only metadata.name, metadata.namespace, metadata.labels['…'] and spec.nodeName are known here"
                ),
            ));
        }
    };
    Ok((lit(&value), Some(value)))
}

/// `securityContext` (the container's, over the pod's).
pub(super) fn security(cx: &mut Ctx, own: Option<&Node>, path: &str) -> Result<String, String> {
    let pick = |k: &str| {
        own.and_then(|s| s.get(k))
            .or_else(|| cx.pod_security.and_then(|s| s.get(k)))
    };
    let mut t = String::new();
    let user = pick("runAsUser")
        .map(|u| {
            u.int()
                .ok_or_else(|| refuse(&format!("{path}.runAsUser"), "must be an integer"))
        })
        .transpose()?;
    if let Some(u) = user {
        t += &format!("user = \"{u}\"\n");
    }
    if let Some(g) = pick("runAsGroup") {
        let g = g
            .int()
            .ok_or_else(|| refuse(&format!("{path}.runAsGroup"), "must be an integer"))?;
        t += &format!("group = \"{g}\"\n");
    }
    if pick("runAsNonRoot").and_then(Node::bool) == Some(true) {
        let root = user.map_or_else(|| nix::unistd::geteuid().is_root(), |u| u == 0);
        if root {
            return Err(refuse(
                &format!("{path}.runAsNonRoot"),
                "the process would run as uid 0; give runAsUser",
            ));
        }
    }
    if pick("allowPrivilegeEscalation").and_then(Node::bool) == Some(false) {
        t += "no_new_privs = true\n";
    }
    if let Some(caps) = pick("capabilities") {
        let list = |k: &str| -> Vec<String> {
            caps.get(k)
                .and_then(Node::seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(|n| n.str().map(q))
                .collect()
        };
        t += &format!(
            "capabilities = {{ drop = [{}], add = [{}] }}\n",
            list("drop").join(", "),
            list("add").join(", ")
        );
    }
    if let Some(s) = own.and_then(Node::map) {
        for (k, _) in s {
            let p = format!("{path}.{k}");
            match k.as_str() {
                "runAsUser" | "runAsGroup" | "runAsNonRoot" | "allowPrivilegeEscalation" | "capabilities" => cx.honour(&p),
                "privileged" => cx.ignore(&p, "a process has what this container has"),
                _ => cx.ignore(&p, "needs a container runtime (seccomp, SELinux, AppArmor, a read-only root of its own)"),
            }
        }
    }
    Ok(t)
}

/// `resources`: limits onto cgroup limits; requests are a scheduler's.
pub(super) fn resources(
    cx: &mut Ctx,
    r: &Node,
    path: &str,
    t: &mut String,
) -> Result<bool, String> {
    if r.get("requests").is_some() {
        cx.ignore(&format!("{path}.requests"), "a scheduler's figure");
    }
    let Some(limits) = r.get("limits").and_then(Node::map) else {
        return Ok(false);
    };
    for (k, v) in limits {
        let p = format!("{path}.limits.{k}");
        let text = v.str().unwrap_or("");
        match k.as_str() {
            "memory" => {
                let bytes = quantity(text).ok_or_else(|| {
                    refuse(&p, &format!("{text:?} is not a quantity such as 128Mi"))
                })?;
                *t += &format!("memory_max = {bytes}\n");
                cx.honour(&p);
            }
            "cpu" => {
                let milli = cpu_milli(text).ok_or_else(|| {
                    refuse(
                        &p,
                        &format!("{text:?} is not a CPU quantity such as 500m or 2"),
                    )
                })?;
                *t += &format!("cpu_max = \"{}.{:03}\"\n", milli / 1000, milli % 1000);
                cx.honour(&p);
            }
            _ => cx.ignore(&p, "no such limit here"),
        }
    }
    Ok(true)
}

/// A Kubernetes quantity in bytes (`128Mi`, `1G`, `1000`).
pub fn quantity(s: &str) -> Option<u64> {
    let units: &[(&str, u64)] = &[
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (num, mul) = units
        .iter()
        .find_map(|(u, m)| s.strip_suffix(u).map(|n| (n, *m)))
        .unwrap_or((s, 1));
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// CPU in millicores (`500m`, `2`, `0.5`).
pub fn cpu_milli(s: &str) -> Option<u64> {
    if let Some(m) = s.strip_suffix('m') {
        return m.parse().ok().filter(|n| *n > 0);
    }
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = format!("{frac:0<3}");
    let milli = whole.parse::<u64>().ok()? * 1000 + frac.get(..3)?.parse::<u64>().ok()?;
    (milli > 0).then_some(milli)
}

/// `lifecycle`: `stopSignal`, and the `postStart` / `preStop` hooks as
/// podinit's `post_start` / `pre_stop` (exec, httpGet or sleep).
pub(super) fn lifecycle(
    cx: &mut Ctx,
    l: &Node,
    path: &str,
    ports: &[Node],
) -> Result<String, String> {
    let mut t = String::new();
    for (k, v) in l.map().unwrap_or(&[]) {
        let p = format!("{path}.{k}");
        let key = match k.as_str() {
            "stopSignal" => {
                cx.honour(&p);
                t += &format!("stop_signal = {}\n", q(v.str().unwrap_or("TERM")));
                continue;
            }
            "postStart" => "post_start",
            "preStop" => "pre_stop",
            _ => {
                cx.ignore(&p, "not known to podinit");
                continue;
            }
        };
        cx.honour(&p);
        t += &format!("{key} = {}\n", hook(v, &p, ports)?);
    }
    Ok(t)
}

/// One lifecycle handler as a podinit hook table.
fn hook(h: &Node, path: &str, ports: &[Node]) -> Result<String, String> {
    let kinds: Vec<&str> = ["exec", "httpGet", "sleep", "tcpSocket"]
        .into_iter()
        .filter(|k| h.get(k).is_some())
        .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => return Err(refuse(path, "needs a handler: exec, httpGet or sleep")),
        _ => {
            return Err(refuse(
                path,
                &format!(
                    "has {} handlers ({}); a hook has one",
                    kinds.len(),
                    kinds.join(", ")
                ),
            ));
        }
    };
    let hp = format!("{path}.{kind}");
    let node = h.get(kind).unwrap_or(h);
    match kind {
        "sleep" => {
            let secs = node
                .get("seconds")
                .and_then(Node::int)
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    refuse(&format!("{hp}.seconds"), "must be a non-negative integer")
                })?;
            Ok(format!("{{ sleep = \"{secs}s\" }}"))
        }
        "tcpSocket" => Err(refuse(
            &hp,
            "Kubernetes accepts it but fails the hook at run time; use exec or httpGet",
        )),
        _ => Ok(format!("{{ {} }}", handler(node, kind, &hp, ports)?)),
    }
}

/// The probes: readiness (or startup) as `ready`, liveness as `health`.
/// True when the successor must wait for it (a startup probe).
pub(super) fn probes(
    cx: &mut Ctx,
    c: &Node,
    path: &str,
    role: Role,
) -> Result<(String, bool), String> {
    let ports = c.get("ports").and_then(Node::seq).unwrap_or(&[]);
    let mut t = String::new();
    let startup = c.get("startupProbe");
    if let Some(p) = startup {
        cx.honour(&format!("{path}.startupProbe"));
        // The gate; its failureThreshold restarts the container.
        let pp = format!("{path}.startupProbe");
        t += &format!("ready = {}\n", probe(p, &pp, ports, Probed::Startup)?);
    }
    if let Some(p) = c.get("readinessProbe") {
        cx.honour(&format!("{path}.readinessProbe"));
        let pp = format!("{path}.readinessProbe");
        t += &format!("readiness = {}\n", probe(p, &pp, ports, Probed::Readiness)?);
    }
    if let Some(p) = c.get("livenessProbe") {
        cx.honour(&format!("{path}.livenessProbe"));
        t += &format!(
            "health = {}\n",
            probe(p, &format!("{path}.livenessProbe"), ports, Probed::Liveness)?
        );
    }
    Ok((t, startup.is_some() && role == Role::Sidecar))
}

/// `restartPolicyRules` (KEP-5307): `Restart` on exit codes `In` or
/// `NotIn` a list, as `restart_codes` (NotIn: the codes 0–255 not listed).
pub(super) fn restart_rules(rules: &Node, path: &str) -> Result<String, String> {
    let mut codes: Vec<i64> = Vec::new();
    for (i, r) in rules.seq().unwrap_or(&[]).iter().enumerate() {
        let rp = format!("{path}[{i}]");
        if r.get("action").and_then(Node::str) != Some("Restart") {
            return Err(refuse(&format!("{rp}.action"), "only Restart is an action"));
        }
        let e = r
            .get("exitCodes")
            .ok_or_else(|| refuse(&format!("{rp}.exitCodes"), "is missing"))?;
        let values: Vec<i64> = e
            .get("values")
            .and_then(Node::seq)
            .unwrap_or(&[])
            .iter()
            .map(|v| v.int().filter(|c| (0..=255).contains(c)))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                refuse(
                    &format!("{rp}.exitCodes.values"),
                    "exit codes go from 0 to 255",
                )
            })?;
        match e.get("operator").and_then(Node::str) {
            Some("In") => codes.extend(values),
            Some("NotIn") => codes.extend((0..=255).filter(|c| !values.contains(c))),
            _ => {
                return Err(refuse(
                    &format!("{rp}.exitCodes.operator"),
                    "expected In or NotIn",
                ));
            }
        }
    }
    codes.sort_unstable();
    codes.dedup();
    let list: Vec<String> = codes.iter().map(i64::to_string).collect();
    Ok(format!("restart_codes = [{}]\n", list.join(", ")))
}

/// Which Kubernetes probe: what its thresholds mean.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Probed {
    Startup,
    Readiness,
    Liveness,
}

/// One probe as a podinit probe table: the thresholds as Kubernetes counts
/// them (successThreshold only for readiness, where it may pass 1).
/// Long on purpose: the handler, its port (by number or name), then the
/// timings with Kubernetes' defaults, each error naming its path.
fn probe(p: &Node, path: &str, ports: &[Node], which: Probed) -> Result<String, String> {
    let handlers: Vec<&str> = ["exec", "httpGet", "tcpSocket", "grpc"]
        .into_iter()
        .filter(|h| p.get(h).is_some())
        .collect();
    let kind = match handlers.as_slice() {
        [one] => *one,
        [] => return Err(refuse(path, "needs a handler: exec, httpGet or tcpSocket")),
        _ => {
            return Err(refuse(
                path,
                &format!(
                    "has {} handlers ({}); a probe has one",
                    handlers.len(),
                    handlers.join(", ")
                ),
            ));
        }
    };
    let mut t = handler(
        p.get(kind).unwrap_or(p),
        kind,
        &format!("{path}.{kind}"),
        ports,
    )?;
    let secs = |k: &str, default: i64, min: i64| -> Result<i64, String> {
        match p.get(k) {
            None => Ok(default),
            Some(n) => n.int().filter(|v| *v >= min).ok_or_else(|| {
                refuse(
                    &format!("{path}.{k}"),
                    &format!("must be an integer of at least {min}"),
                )
            }),
        }
    };
    t += &format!(
        ", interval = \"{}s\", timeout = \"{}s\"",
        secs("periodSeconds", 10, 1)?,
        secs("timeoutSeconds", 1, 1)?
    );
    let delay = secs("initialDelaySeconds", 0, 0)?;
    if delay > 0 {
        t += &format!(", initial_delay = \"{delay}s\"");
    }
    let failures = secs("failureThreshold", 3, 1)?;
    let successes = secs("successThreshold", 1, 1)?;
    if successes != 1 && which != Probed::Readiness {
        return Err(refuse(
            &format!("{path}.successThreshold"),
            "must be 1 for liveness and startup probes (as Kubernetes says)",
        ));
    }
    t += &format!(", failures = {failures}");
    if which == Probed::Readiness && successes != 1 {
        t += &format!(", successes = {successes}");
    }
    Ok(format!("{{ {t} }}"))
}

/// A probe's or hook's handler (`exec`, `httpGet`, `tcpSocket`) as the
/// podinit probe key; `hp` is its path, `ports` the container's.
fn handler(h: &Node, kind: &str, hp: &str, ports: &[Node]) -> Result<String, String> {
    let port = |n: Option<&Node>| -> Result<i64, String> {
        let n = n.ok_or_else(|| refuse(&format!("{hp}.port"), "is missing"))?;
        if let Some(i) = n.int() {
            return Ok(i);
        }
        let name = n.str().unwrap_or("");
        ports
            .iter()
            .find(|x| x.get("name").and_then(Node::str) == Some(name))
            .and_then(|x| x.get("containerPort"))
            .and_then(Node::int)
            .ok_or_else(|| {
                refuse(
                    &format!("{hp}.port"),
                    &format!("{name:?} is not the name of one of the container's ports"),
                )
            })
    };
    Ok(match kind {
        "exec" => {
            let argv: Vec<String> = h
                .get("command")
                .and_then(Node::seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(|w| w.str().map(q)) // probes and hooks are not expanded
                .collect();
            if argv.is_empty() {
                return Err(refuse(&format!("{hp}.command"), "is missing"));
            }
            format!("exec = [{}]", argv.join(", "))
        }
        "httpGet" => http_get(h, hp, &port)?,
        "tcpSocket" => {
            let host = h.get("host").and_then(Node::str).unwrap_or("127.0.0.1");
            format!("tcp = {}", q(&format!("{host}:{}", port(h.get("port"))?)))
        }
        _ => return Err(refuse(hp, "gRPC probes are not supported")),
    })
}

/// An `httpGet` handler as `http = …` (with `headers`); `port` resolves a
/// port by number or by the container's port name.
fn http_get(
    h: &Node,
    hp: &str,
    port: &dyn Fn(Option<&Node>) -> Result<i64, String>,
) -> Result<String, String> {
    if h.get("scheme")
        .and_then(Node::str)
        .is_some_and(|s| s != "HTTP")
    {
        return Err(refuse(
            &format!("{hp}.scheme"),
            "HTTPS: podinit's probes speak plain HTTP",
        ));
    }
    let host = h.get("host").and_then(Node::str).unwrap_or("127.0.0.1");
    let path_ = h.get("path").and_then(Node::str).unwrap_or("/");
    let mut t = format!(
        "http = {}",
        q(&format!("http://{host}:{}{path_}", port(h.get("port"))?))
    );
    if let Some(hs) = h.get("httpHeaders").and_then(Node::seq) {
        let mut pairs = Vec::new();
        for (i, x) in hs.iter().enumerate() {
            let (Some(n), Some(v)) = (
                x.get("name").and_then(Node::str),
                x.get("value").and_then(Node::str),
            ) else {
                return Err(refuse(
                    &format!("{hp}.httpHeaders[{i}]"),
                    "needs name and value",
                ));
            };
            pairs.push(format!("{} = {}", q(n), q(v)));
        }
        t += &format!(", headers = {{ {} }}", pairs.join(", "));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_expansion_as_kubernetes_does_it() {
        let env = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &env), "x-$(B)-$(A)-$");
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity("128Mi"), Some(128 << 20));
        assert_eq!(quantity("1G"), Some(1_000_000_000));
        assert_eq!(quantity("12x"), None);
        assert_eq!(cpu_milli("500m"), Some(500));
        assert_eq!(cpu_milli("1.5"), Some(1500));
        assert_eq!(cpu_milli("0"), None);
    }
}
