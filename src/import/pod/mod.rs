//! A Kubernetes Pod (or the pod template of a Deployment, StatefulSet,
//! DaemonSet, ReplicaSet, Job or CronJob) as podinit TOML, with Kubernetes'
//! semantics mapped onto podinit's engine:
//!
//! - `initContainers` are oneshots, each depending on the one before
//!   (`completed`); one with `restartPolicy: Always` is a sidecar: always
//!   restarted, not a main, and the next one waits for it to be started
//!   (`ready` when it has a `startupProbe`, which gates it).
//! - `containers` are main processes depending on the last init container,
//!   so they start in parallel after them; `pod_ends = "all-mains"`: the
//!   pod completes when all have ended, with the first failure's status.
//! - The stop is the reverse of the start: containers first, then sidecars
//!   one after the other in reverse order; `terminationGracePeriodSeconds`
//!   (30) is the whole budget (`shutdown_timeout`) and each stop timeout.
//!
//! Every field is honoured, ignored (with why), or refused (an error
//! naming its path); `report` says which, for `podinit check`.

use super::yaml::Node;

mod fields;
use fields::{argv, env_vars, lifecycle, probes, resources, security};
pub use fields::{cpu_milli, expand, quantity};

/// The TOML, and a line per field of the manifest.
#[derive(Debug)]
pub struct Translated {
    pub toml: String,
    pub report: Vec<String>,
}

/// Where Secret and ConfigMap files are looked for: `DIR/secrets/NAME/KEY`
/// and `DIR/configmaps/NAME/KEY`, laid out as mounted volumes.
pub const KUBE_DIR: &str = "/etc/podinit/kube";

const KINDS: &[(&str, &[&str])] = &[
    ("Pod", &["spec"]),
    ("Deployment", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

/// Whether a document is one podinit can run.
pub fn is_pod_document(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        KINDS
            .iter()
            .any(|(k, _)| l == format!("kind: {k}") || l == format!("\"kind\": \"{k}\","))
    })
}

pub(super) struct Ctx<'a> {
    pub(super) report: Vec<String>,
    pub(super) pod_name: String,
    pub(super) namespace: String,
    pub(super) labels: Vec<(String, String)>,
    pub(super) kube_dir: &'a str,
    /// Pod-level securityContext, the containers' default.
    pub(super) pod_security: Option<&'a Node>,
    /// A container with `tty: true` took the terminal (one at most).
    pub(super) tty_taken: bool,
}

impl Ctx<'_> {
    pub(super) fn honour(&mut self, path: &str) {
        self.report.push(format!("{path}: honoured"));
    }
    pub(super) fn ignore(&mut self, path: &str, why: &str) {
        self.report.push(format!("{path}: ignored ({why})"));
    }
}

pub(super) fn refuse(path: &str, why: &str) -> String {
    format!("{path}: {why}")
}

/// A TOML string.
pub(super) fn q(s: &str) -> String {
    crate::json::quoted(s)
}

/// A manifest's text as podinit would see it literally: `$` doubled, so
/// that podinit's own `${NAME}` expansion leaves it alone.
pub(super) fn lit(s: &str) -> String {
    q(&s.replace('$', "$$"))
}

/// The pod of `text`: its only pod-bearing document, or the one `pick` names.
/// Long on purpose: finding the document, its spec and its metadata is one
/// walk whose errors each name the document or the path.
pub fn translate(
    text: &str,
    file: &str,
    pick: Option<&str>,
    kube_dir: &str,
) -> Result<Translated, String> {
    let docs = super::yaml::parse(text, file)?;
    let mut pods = Vec::new();
    for d in &docs {
        let kind = d.get("kind").and_then(Node::str).unwrap_or("");
        let Some((_, path)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            continue;
        };
        let name = d
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::str)
            .unwrap_or("pod");
        pods.push((kind, name.to_string(), d, *path));
    }
    let chosen: Vec<_> = pods
        .iter()
        .filter(|(_, n, _, _)| pick.is_none_or(|p| p == n))
        .collect();
    let list = || {
        pods.iter()
            .map(|(k, n, _, _)| format!("{k}/{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (kind, name, doc, path) = match chosen.as_slice() {
        [one] => *one,
        [] if pods.is_empty() => {
            return Err(format!(
                "{file}: no document is a Pod or has a pod template (kind: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)"
            ));
        }
        [] => {
            return Err(format!(
                "{file}: no pod named {:?}; the file has {}",
                pick.unwrap_or(""),
                list()
            ));
        }
        _ => {
            return Err(format!(
                "{file}: {} documents bear a pod ({}); choose one with --pod NAME",
                pods.len(),
                list()
            ));
        }
    };
    let mut spec = *doc;
    for (i, key) in path.iter().enumerate() {
        spec = spec
            .get(key)
            .ok_or_else(|| format!("{file}: {} is missing", path[..=i].join(".")))?;
    }
    let template_meta = if path.len() > 1 {
        let mut m = *doc;
        for key in &path[..path.len() - 1] {
            m = m.get(key).unwrap_or(m);
        }
        m.get("metadata")
    } else {
        doc.get("metadata")
    };
    let meta = doc.get("metadata");
    let mut cx = Ctx {
        report: Vec::new(),
        pod_name: name.clone(),
        namespace: meta
            .and_then(|m| m.get("namespace"))
            .and_then(Node::str)
            .unwrap_or("default")
            .to_string(),
        labels: labels(template_meta.or(meta)),
        kube_dir,
        pod_security: spec.get("securityContext"),
        tty_taken: false,
    };
    let prefix = path.join(".");
    let toml = pod_spec(&mut cx, spec, &prefix, kind, name, file)?;
    Ok(Translated {
        toml,
        report: cx.report,
    })
}

fn labels(meta: Option<&Node>) -> Vec<(String, String)> {
    meta.and_then(|m| m.get("labels"))
        .and_then(Node::map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Pod-level fields and the containers, as TOML. Long on purpose: one arm
/// per pod field (honoured or ignored, and why), then the containers in
/// Kubernetes' start order.
fn pod_spec(
    cx: &mut Ctx,
    spec: &Node,
    prefix: &str,
    kind: &str,
    name: &str,
    file: &str,
) -> Result<String, String> {
    let map = spec
        .map()
        .ok_or_else(|| refuse(prefix, "must be a mapping"))?;
    let policy = match spec.get("restartPolicy").and_then(Node::str) {
        None if matches!(kind, "Job" | "CronJob") => "Never",
        None => "Always",
        Some(p @ ("Always" | "OnFailure" | "Never")) => p,
        Some(other) => {
            return Err(refuse(
                &format!("{prefix}.restartPolicy"),
                &format!("{other:?}: expected Always, OnFailure or Never"),
            ));
        }
    };
    let grace = match spec.get("terminationGracePeriodSeconds") {
        None => 30,
        Some(n) => n.int().filter(|n| *n >= 0).ok_or_else(|| {
            refuse(
                &format!("{prefix}.terminationGracePeriodSeconds"),
                "must be a non-negative integer",
            )
        })?,
    };
    for (key, _) in map {
        let path = format!("{prefix}.{key}");
        match key.as_str() {
            "containers"
            | "initContainers"
            | "restartPolicy"
            | "terminationGracePeriodSeconds"
            | "securityContext" => cx.honour(&path),
            "volumes" => cx.ignore(&path, "the containers share this container's filesystem"),
            "hostname" | "subdomain" | "hostNetwork" | "hostPID" | "hostIPC" | "dnsPolicy"
            | "dnsConfig" | "hostAliases" => {
                cx.ignore(&path, "the network and names are this container's")
            }
            "nodeSelector"
            | "nodeName"
            | "affinity"
            | "tolerations"
            | "topologySpreadConstraints"
            | "schedulerName"
            | "priority"
            | "priorityClassName"
            | "runtimeClassName"
            | "preemptionPolicy"
            | "overhead" => cx.ignore(&path, "scheduling: this container is already on its node"),
            "serviceAccountName"
            | "serviceAccount"
            | "automountServiceAccountToken"
            | "imagePullSecrets"
            | "enableServiceLinks"
            | "shareProcessNamespace"
            | "readinessGates"
            | "activeDeadlineSeconds"
            | "os"
            | "setHostnameAsFQDN"
            | "resourceClaims"
            | "schedulingGates" => cx.ignore(
                &path,
                "a cluster's concern, without meaning inside one container",
            ),
            _ => cx.ignore(&path, "not known to podinit"),
        }
    }
    let mut out = format!(
        "# podinit TOML for {kind} {name:?} ({file}), as `podinit import` writes it.\n[podinit]\npod_ends = \"all-mains\"\nshutdown_timeout = \"{grace}s\"\n"
    );
    let inits = spec
        .get("initContainers")
        .and_then(Node::seq)
        .unwrap_or(&[]);
    let containers = spec
        .get("containers")
        .and_then(Node::seq)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            refuse(
                &format!("{prefix}.containers"),
                "is missing: a pod needs at least one container",
            )
        })?;
    let mut names: Vec<String> = Vec::new();
    let mut body = String::new();
    let mut before: Option<(String, &str)> = None;
    // Every later container depends on each earlier sidecar too, so that
    // the stop (dependents first) takes the sidecars last, in reverse.
    let mut sidecars: Vec<String> = Vec::new();
    let mut limited = false;
    for (i, c) in inits.iter().enumerate() {
        let path = format!("{prefix}.initContainers[{i}]");
        let sidecar = c.get("restartPolicy").and_then(Node::str) == Some("Always");
        let role = if sidecar {
            Role::Sidecar
        } else {
            Role::Init(policy)
        };
        let deps = deps_of(before.as_ref(), &sidecars);
        let (text, name, gate, lim) = container(cx, c, &path, role, &deps, grace, &names)?;
        limited |= lim;
        body += &text;
        names.push(name.clone());
        if sidecar {
            sidecars.push(name.clone());
        }
        before = Some((name, gate));
    }
    for (i, c) in containers.iter().enumerate() {
        let path = format!("{prefix}.containers[{i}]");
        let deps = deps_of(before.as_ref(), &sidecars);
        let (text, name, _, lim) =
            container(cx, c, &path, Role::Main(policy), &deps, grace, &names)?;
        limited |= lim;
        body += &text;
        names.push(name);
    }
    if limited {
        // Kubernetes enforces limits where it can; so does podinit.
        out += "cgroups = \"best-effort\"\n";
    }
    Ok(out + &body)
}

/// What a container waits for: the one before it (with its gate), and
/// every earlier sidecar to be started.
fn deps_of<'a>(before: Option<&(String, &'a str)>, sidecars: &[String]) -> Vec<(String, &'a str)> {
    let mut deps: Vec<(String, &str)> = before.into_iter().cloned().collect();
    for s in sidecars {
        if !deps.iter().any(|(d, _)| d == s) {
            deps.push((s.clone(), "started"));
        }
    }
    deps
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Role<'p> {
    Init(&'p str),
    Sidecar,
    Main(&'p str),
}

/// One container as a `[process.NAME]` table; its name, the condition its
/// successor waits for, and whether it has limits. Long on purpose: one arm
/// per container field, each honoured, ignored (and why) or refused.
#[allow(clippy::type_complexity)]
fn container(
    cx: &mut Ctx,
    c: &Node,
    path: &str,
    role: Role,
    before: &[(String, &str)],
    grace: i64,
    taken: &[String],
) -> Result<(String, String, &'static str, bool), String> {
    let map = c.map().ok_or_else(|| refuse(path, "must be a mapping"))?;
    let name = c
        .get("name")
        .and_then(Node::str)
        .ok_or_else(|| refuse(&format!("{path}.name"), "is missing"))?
        .to_string();
    if taken.contains(&name) {
        return Err(refuse(
            &format!("{path}.name"),
            &format!("{name:?} is the name of another container"),
        ));
    }
    let (env, plain) = env_vars(cx, c, path)?;
    let mut t = format!("\n[process.{}]\n", q(&name));
    t += &format!(
        "command = [{}]\n",
        argv(c, path, &plain)?
            .iter()
            .map(|a| lit(a))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // A regular container's own restartPolicy (KEP-5307) over the pod's.
    let own = c.get("restartPolicy").and_then(Node::str);
    let role = match (role, own) {
        (Role::Main(_), Some("Always")) => Role::Main("Always"),
        (Role::Main(_), Some("OnFailure")) => Role::Main("OnFailure"),
        (Role::Main(_), Some("Never")) => Role::Main("Never"),
        (r, _) => r,
    };
    t += &match role {
        Role::Init(p) => format!(
            "oneshot = true\nrestart = \"{}\"\n",
            if p == "Never" { "never" } else { "on-failure" }
        ),
        Role::Sidecar => "restart = \"always\"\n".to_string(),
        Role::Main(p) => format!(
            "main = true\nrestart = \"{}\"\n",
            match p {
                "Always" => "always",
                "OnFailure" => "on-failure",
                _ => "never",
            }
        ),
    };
    if !before.is_empty() {
        let deps: Vec<String> = before
            .iter()
            .map(|(d, cond)| format!("{} = \"{cond}\"", q(d)))
            .collect();
        t += &format!("depends_on = {{ {} }}\n", deps.join(", "));
    }
    t += &format!("stop_timeout = \"{grace}s\"\n");
    if !env.is_empty() {
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{} = {v}", q(k))).collect();
        t += &format!("env = {{ {} }}\n", vars.join(", "));
    }
    let mut gate = if matches!(role, Role::Init(_)) {
        "completed"
    } else {
        "started"
    };
    let mut limited = false;
    for (key, v) in map {
        let p = format!("{path}.{key}");
        match key.as_str() {
            "name" | "command" | "args" | "env" | "envFrom" => cx.honour(&p),
            "restartPolicy" if role == Role::Sidecar => cx.honour(&p),
            "restartPolicy"
                if matches!(role, Role::Main(_))
                    && matches!(v.str(), Some("Always" | "OnFailure" | "Never")) =>
            {
                cx.honour(&p)
            }
            "restartPolicyRules" => {
                cx.honour(&p);
                t += &fields::restart_rules(v, &p)?;
            }
            "restartPolicy" => {
                return Err(refuse(
                    &p,
                    "Always, OnFailure or Never on a container; in initContainers only Always (a sidecar)",
                ));
            }
            "workingDir" => {
                cx.honour(&p);
                t += &format!("working_dir = {}\n", q(v.str().unwrap_or("")));
            }
            "securityContext" => {}
            "resources" => limited |= resources(cx, v, &p, &mut t)?,
            "readinessProbe" | "livenessProbe" | "startupProbe" => {}
            "ports" => cx.honour(&p),
            "lifecycle" => {
                let ports = c.get("ports").and_then(Node::seq).unwrap_or(&[]);
                t += &lifecycle(cx, v, &p, ports)?;
            }
            "image" | "imagePullPolicy" => {
                cx.ignore(&p, "the program is in this container's filesystem")
            }
            "volumeMounts" | "volumeDevices" => {
                cx.ignore(&p, "the containers share this container's filesystem")
            }
            "tty" if v.bool() == Some(true) => {
                if std::mem::replace(&mut cx.tty_taken, true) {
                    return Err(refuse(
                        &p,
                        "another container has the terminal: one at most",
                    ));
                }
                cx.honour(&p);
                t += "tty = true\n";
            }
            "stdin" | "tty" => cx.honour(&p),
            "stdinOnce" => cx.ignore(&p, "stdin is podinit's own, open for the pod's life"),
            "terminationMessagePath" | "terminationMessagePolicy" | "resizePolicy" => {
                cx.ignore(&p, "a cluster's concern")
            }
            _ => cx.ignore(&p, "not known to podinit"),
        }
    }
    t += &security(
        cx,
        c.get("securityContext"),
        &format!("{path}.securityContext"),
    )?;
    let (probes, gated) = probes(cx, c, path, role)?;
    t += &probes;
    if gated {
        gate = "ready";
    }
    Ok((t, name, gate, limited))
}
