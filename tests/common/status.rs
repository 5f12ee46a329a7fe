//! `podinit status --json`, parsed: a test asserts on fields, not on
//! substrings of the JSON text.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A JSON value (enough of JSON for podinit's answers).
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing text at {}: {text}", p.i));
        }
        Ok(v)
    }

    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(key).unwrap_or(&Json::Null),
            _ => &Json::Null,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.object(),
            Some(b'[') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    self.ws();
                    if self.eat("]") {
                        return Ok(Json::Arr(out));
                    }
                    out.push(self.value()?);
                    self.ws();
                    self.eat(",");
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            _ if self.eat("null") => Ok(Json::Null),
            _ if self.eat("true") => Ok(Json::Bool(true)),
            _ if self.eat("false") => Ok(Json::Bool(false)),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"-+.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(Json::Num)
                    .ok_or_else(|| format!("bad value at {start}"))
            }
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.i += 1;
        let mut out = BTreeMap::new();
        loop {
            self.ws();
            if self.eat("}") {
                return Ok(Json::Obj(out));
            }
            let k = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(format!("':' expected at {}", self.i));
            }
            out.insert(k, self.value()?);
            self.ws();
            self.eat(",");
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        while let Some(&b) = self.s.get(self.i) {
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = self.s.get(self.i).copied().unwrap_or(b'"');
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex =
                                std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap_or("0");
                            let c = char::from_u32(u32::from_str_radix(hex, 16).unwrap_or(0xfffd))
                                .unwrap_or('\u{fffd}');
                            out.extend_from_slice(c.to_string().as_bytes());
                            self.i += 4;
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        Err("unterminated string".into())
    }
}

/// One process as `status --json` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcStatus {
    pub name: String,
    pub state: String,
    pub pid: Option<i64>,
    pub restarts: i64,
    pub last_exit: Option<i64>,
    pub last_exit_reason: Option<String>,
    pub oom_kills: i64,
    pub ready: bool,
    pub probe_failure: Option<String>,
    /// A scheduled job's next time, local (`YYYY-MM-DD HH:MM:SS +HHMM`).
    pub next_run: Option<String>,
}

/// The processes of a `status --json` answer.
pub fn parse_status(json: &str) -> Vec<ProcStatus> {
    let v = Json::parse(json.trim()).unwrap_or_else(|e| panic!("status is not JSON ({e}): {json}"));
    let Json::Arr(procs) = v.get("processes") else {
        panic!("no processes array: {json}");
    };
    let num = |j: &Json| match j {
        Json::Num(n) => Some(*n as i64),
        _ => None,
    };
    procs
        .iter()
        .map(|p| ProcStatus {
            name: match p.get("name") {
                Json::Str(s) => s.clone(),
                _ => panic!("a process without a name: {json}"),
            },
            state: match p.get("state") {
                Json::Str(s) => s.clone(),
                _ => String::new(),
            },
            pid: num(p.get("pid")),
            restarts: num(p.get("restarts")).unwrap_or(-1),
            last_exit: num(p.get("last_exit")),
            last_exit_reason: match p.get("last_exit_reason") {
                Json::Str(s) => Some(s.clone()),
                _ => None,
            },
            oom_kills: num(p.get("oom_kills")).unwrap_or(-1),
            ready: p.get("ready") == &Json::Bool(true),
            probe_failure: match p.get("probe_failure") {
                Json::Str(s) => Some(s.clone()),
                _ => None,
            },
            next_run: match p.get("next_run") {
                Json::Str(s) => Some(s.clone()),
                _ => None,
            },
        })
        .collect()
}

/// `podinit status --json NAME -c CFG`, parsed: that process's status.
pub fn status(cfg: &str, name: &str) -> ProcStatus {
    let out = std::process::Command::new(super::BIN)
        .args(["status", "--json", name, "-c", cfg])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_status(&text)
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} not in {text}"))
}

/// Polls `status` of `name` until `ok` holds (or fails after `limit`).
pub fn wait_status(
    cfg: &str,
    name: &str,
    limit: Duration,
    ok: impl Fn(&ProcStatus) -> bool,
) -> ProcStatus {
    let deadline = Instant::now() + limit;
    loop {
        let s = status(cfg, name);
        if ok(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: never as expected; last: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
