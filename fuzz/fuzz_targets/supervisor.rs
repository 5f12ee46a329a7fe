//! The supervisor driven by arbitrary event sequences, with a simulated
//! runtime, checking on every step: a process never has two live
//! instances; a stop signal goes to a process only once its dependents are
//! down (during a shutdown); every spawned pid is reaped by the end; the
//! pod always reaches Exit with a status in 0..=255.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use podinit::config;
use podinit::supervisor::{Action, Control, ExitStatus, Input, Pid, ProbeResult, Supervisor};

const POD: &str = r#"
[process.db]
command = "db"
ready = { tcp = "127.0.0.1:5432", interval = "100ms" }
restart_delay = "10ms"
restart_delay_max = "80ms"
[process.cache]
command = "cache"
max_restarts = 3
restart_delay = "0s"
[process.init]
command = "init"
oneshot = true
restart = "on-failure"
depends_on = ["db"]
[process.app]
command = "app"
main = true
restart = "on-failure"
max_restarts = 2
depends_on = { init = "completed", cache = "started" }
health = { file = "/x", interval = "50ms", failures = 2 }
stop_timeout = "300ms"
[process.side]
command = "side"
critical = true
depends_on = { app = "started" }
[process.tick]
command = "tick"
oneshot = true
schedule = "@every 1s"
[process.minute]
command = "minute"
oneshot = true
schedule = "* * * * *"
depends_on = ["db"]
"#;

struct Sim {
    sup: Supervisor,
    now: Instant,
    next_pid: Pid,
    /// idx → live pid
    live: Vec<Option<Pid>>,
    deps: Vec<Vec<usize>>,
    shutting_down: bool,
    exit: Option<i32>,
    probes: Vec<u64>,
}

impl Sim {
    fn apply(&mut self, acts: Vec<Action>, fail_next: &mut bool) {
        let mut queue: std::collections::VecDeque<Action> = acts.into();
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Spawn(idx) => {
                    assert!(self.live[idx].is_none(), "two live instances of {idx}");
                    let input = if std::mem::take(fail_next) {
                        Input::SpawnFailed { idx, status: ExitStatus::Code(127) }
                    } else {
                        self.next_pid += 1;
                        self.live[idx] = Some(self.next_pid);
                        Input::Spawned { idx, pid: self.next_pid }
                    };
                    queue.extend(self.sup.handle(self.now, input));
                }
                Action::SignalGroup { idx, pid, sig } => {
                    assert_eq!(self.live[idx], Some(pid), "signal to a process that is not live");
                    if self.shutting_down && sig != libc::SIGKILL {
                        for (j, d) in self.deps.iter().enumerate() {
                            if d.contains(&idx) {
                                assert!(self.live[j].is_none(), "{idx} stopped before its dependent {j}");
                            }
                        }
                    }
                }
                Action::SignalProcess { idx, pid, .. } => {
                    assert_eq!(self.live[idx], Some(pid));
                }
                Action::Probe { id, .. } => self.probes.push(id),
                Action::CancelProbe { id } => self.probes.retain(|&p| p != id),
                Action::Sweep(_) => {
                    if self.live.iter().all(Option::is_none) {
                        queue.extend(self.sup.handle(self.now, Input::NoChildren));
                    }
                }
                Action::Exit(code) => {
                    assert!((0..=255).contains(&code), "exit status {code}");
                    self.exit = Some(code);
                }
                // No config file to read again here: a failed read.
                Action::ReadConfig => {
                    queue.extend(self.sup.handle(self.now, Input::ReloadFailed("fuzz".into())))
                }
                Action::Rewire(_) => {}
            }
        }
        // Events are the runtime's to log; keep them from piling up.
        self.sup.take_events();
    }

    fn reap(&mut self, idx: usize, status: ExitStatus, fail_next: &mut bool) {
        if let Some(pid) = self.live[idx].take() {
            let acts = self.sup.handle(self.now, Input::Reaped { pid, status });
            self.apply(acts, fail_next);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = config::parse(POD, "pod.toml", None, &|_| None).unwrap();
    let n = cfg.procs.len();
    let now = Instant::now();
    let mut sim = Sim {
        sup: Supervisor::new(&cfg),
        now,
        next_pid: 100,
        live: vec![None; n],
        deps: cfg.procs.iter().map(|p| p.deps.iter().map(|d| d.on).collect()).collect(),
        shutting_down: false,
        exit: None,
        probes: Vec::new(),
    };
    let mut fail_next = false;
    let first = sim.sup.handle(now, Input::Start);
    sim.apply(first, &mut fail_next);
    for chunk in data.chunks(2) {
        if sim.exit.is_some() {
            break;
        }
        let (op, arg) = (chunk[0], *chunk.get(1).unwrap_or(&0));
        let idx = arg as usize % n;
        let acts = match op % 10 {
            0 => {
                sim.now += Duration::from_millis(arg as u64 * 4);
                sim.sup.handle(sim.now, Input::Tick)
            }
            1 => {
                let st = if arg & 1 == 0 { ExitStatus::Code((arg >> 1) as i32 % 4) } else { ExitStatus::Signaled(9) };
                sim.reap(idx, st, &mut fail_next);
                continue;
            }
            2 => {
                sim.shutting_down = true;
                let sig = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT][arg as usize % 3];
                sim.sup.handle(sim.now, Input::Signal(sig))
            }
            3 => sim.sup.handle(sim.now, Input::Signal(libc::SIGUSR1)),
            4 => match sim.probes.first().copied() {
                Some(id) => {
                    sim.probes.remove(0);
                    sim.sup.handle(sim.now, Input::ProbeResult { id, result: ProbeResult { ok: arg & 1 == 0, detail: String::new() } })
                }
                None => continue,
            },
            5 => {
                fail_next = true;
                continue;
            }
            6 => {
                let cmd = match arg % 4 {
                    0 => Control::Start(idx),
                    1 => Control::Stop(idx),
                    2 => Control::Restart(idx),
                    _ => Control::Signal(idx, libc::SIGUSR2),
                };
                sim.sup.handle(sim.now, Input::Control(cmd))
            }
            7 => match sim.live[idx] {
                Some(pid) => sim.sup.handle(sim.now, Input::Notified { pid }),
                None => continue,
            },
            8 => sim.sup.handle(sim.now, Input::Reaped { pid: 99_999, status: ExitStatus::Code(0) }),
            _ => sim.sup.handle(sim.now, Input::NoChildren),
        };
        sim.apply(acts, &mut fail_next);
    }
    // The end: a shutdown, every process dying as told, time passing.
    sim.shutting_down = true;
    let acts = sim.sup.handle(sim.now, Input::Signal(libc::SIGTERM));
    sim.apply(acts, &mut fail_next);
    for _ in 0..200 {
        if sim.exit.is_some() {
            break;
        }
        for idx in 0..n {
            sim.reap(idx, ExitStatus::Signaled(15), &mut fail_next);
        }
        sim.now += Duration::from_secs(1);
        let acts = sim.sup.handle(sim.now, Input::Tick);
        sim.apply(acts, &mut fail_next);
        let acts = sim.sup.handle(sim.now, Input::NoChildren);
        sim.apply(acts, &mut fail_next);
    }
    assert!(sim.exit.is_some(), "the pod never exited");
    assert!(sim.live.iter().all(Option::is_none), "a spawned process was never reaped");
});
