//! The supervisor's decisions with simulated time: no process is spawned,
//! no clock is read.

use std::time::{Duration, Instant};

use super::*;
use crate::config;

const TERM: i32 = libc::SIGTERM;
const KILL: i32 = libc::SIGKILL;

fn pod(toml: &str) -> Config {
    config::parse(toml, "test.toml", None, &|_| None).unwrap()
}

/// A simulated pod: pids are 100 + index, time moves only when told.
struct Sim {
    sup: Supervisor,
    t0: Instant,
    now: Instant,
    /// The wall clock at t0, in ms since the epoch.
    wall0: i64,
}

impl Sim {
    fn new(cfg: &Config) -> (Sim, Vec<Action>) {
        Sim::new_at(cfg, 0, config::schedule::utc)
    }

    /// Starts at a wall-clock time, in a zone (scheduled jobs).
    fn new_at(cfg: &Config, wall0: i64, zone: config::Zone) -> (Sim, Vec<Action>) {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(cfg);
        sup.set_zone(zone);
        sup.set_clock(wall0);
        let first = sup.handle(t0, Input::Start);
        (
            Sim {
                sup,
                t0,
                now: t0,
                wall0,
            },
            first,
        )
    }

    fn idx(&self, name: &str) -> usize {
        self.sup
            .specs()
            .iter()
            .position(|s| s.name == name)
            .unwrap()
    }

    fn pid(&self, name: &str) -> Pid {
        100 + self.idx(name) as Pid
    }

    fn feed(&mut self, input: Input) -> Vec<Action> {
        let ms = (self.now - self.t0).as_millis() as i64;
        self.sup.set_clock(self.wall0 + ms);
        self.sup.handle(self.now, input)
    }

    /// A control request: its actions, or the refusal the client would get.
    fn control(&mut self, cmd: Control) -> Result<Vec<Action>, String> {
        self.sup.take_events();
        let acts = self.feed(Input::Control(cmd));
        let refused: Vec<String> = self
            .sup
            .take_events()
            .into_iter()
            .filter(|e| e.kind == EventKind::Refused)
            .map(|e| e.text)
            .collect();
        if refused.is_empty() {
            Ok(acts)
        } else {
            Err(refused.join("; "))
        }
    }

    /// The events of one kind since the last call (the others are dropped).
    fn events(&mut self, kind: EventKind) -> Vec<String> {
        self.sup
            .take_events()
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.text)
            .collect()
    }

    fn spawned(&mut self, name: &str) -> Vec<Action> {
        let idx = self.idx(name);
        self.feed(Input::Spawned {
            idx,
            pid: 100 + idx as Pid,
        })
    }

    fn exited(&mut self, name: &str, status: ExitStatus) -> Vec<Action> {
        let pid = self.pid(name);
        self.feed(Input::Reaped { pid, status })
    }

    /// Moves time to `ms` after the start and fires what is due.
    fn at(&mut self, ms: u64) -> Vec<Action> {
        self.now = self.t0 + Duration::from_millis(ms);
        self.feed(Input::Tick)
    }

    fn spawn(&self, name: &str) -> Action {
        Action::Spawn(self.idx(name))
    }

    fn group(&self, name: &str, sig: i32) -> Action {
        Action::SignalGroup {
            idx: self.idx(name),
            pid: self.pid(name),
            sig,
        }
    }

    fn state(&self, name: &str) -> State {
        self.sup.procs()[self.idx(name)].state
    }

    fn deadline_ms(&self) -> Option<u128> {
        self.sup.next_deadline().map(|d| (d - self.t0).as_millis())
    }
}

const CHAIN: &str = r#"
[process.a]
command = "a"
[process.b]
command = "b"
depends_on = ["a"]
[process.c]
command = "c"
depends_on = ["b"]
main = true
"#;

#[test]
fn chain_starts_in_order_and_stops_in_reverse() {
    let cfg = pod(CHAIN);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("a")]);
    assert_eq!(s.spawned("a"), vec![s.spawn("b")]);
    assert_eq!(s.spawned("b"), vec![s.spawn("c")]);
    assert_eq!(s.spawned("c"), vec![]);
    assert_eq!(s.state("c"), State::Ready);
    assert_eq!(s.deadline_ms(), None, "an idle pod has no timer");

    // The main exits: b stops first, then a, then the strays, then exit.
    assert_eq!(s.exited("c", ExitStatus::Code(4)), vec![s.group("b", TERM)]);
    assert_eq!(s.state("b"), State::Stopping);
    assert_eq!(s.deadline_ms(), Some(5_000));
    assert_eq!(s.exited("b", ExitStatus::Code(0)), vec![s.group("a", TERM)]);
    assert_eq!(
        s.exited("a", ExitStatus::Signaled(TERM)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(4)]);
    assert!(s.sup.is_done());
}

#[test]
fn independent_processes_start_and_stop_in_parallel() {
    let cfg = pod(r#"
[process.x]
command = "x"
[process.y]
command = "y"
[process.z]
command = "z"
depends_on = ["x", "y"]
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("x"), s.spawn("y")]);
    assert_eq!(s.spawned("x"), vec![]);
    assert_eq!(s.spawned("y"), vec![s.spawn("z")]);
    s.spawned("z");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("z", TERM)]);
    let acts = s.exited("z", ExitStatus::Code(0));
    assert_eq!(acts, vec![s.group("y", TERM), s.group("x", TERM)]);
}

#[test]
fn started_condition_does_not_wait_for_readiness() {
    let cfg = pod(r#"
[process.db]
command = "db"
[process.app]
command = "app"
depends_on = { db = "started" }
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("db")]);
    assert_eq!(s.spawned("db"), vec![s.spawn("app")]);
}

#[test]
fn stop_timeout_sends_sigkill_exactly_on_time() {
    let cfg = pod(r#"
[process.stubborn]
command = "x"
stop_timeout = "2s"
main = true
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("stubborn");
    s.at(1000);
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("stubborn", TERM)]);
    assert_eq!(s.deadline_ms(), Some(3000));
    assert_eq!(s.at(2999), vec![]);
    assert_eq!(s.at(3000), vec![s.group("stubborn", KILL)]);
    assert_eq!(
        s.deadline_ms(),
        Some(31_000),
        "only the shutdown_timeout remains"
    );
    assert_eq!(
        s.exited("stubborn", ExitStatus::Signaled(KILL)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(137)]);
}

#[test]
fn second_term_kills_everything_at_once() {
    let (mut s, _) = Sim::new(&pod(CHAIN));
    for n in ["a", "b", "c"] {
        s.spawned(n);
    }
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("c", TERM)]);
    let acts = s.feed(Input::Signal(libc::SIGINT));
    assert_eq!(
        acts,
        vec![
            s.group("a", KILL),
            s.group("b", KILL),
            s.group("c", KILL),
            Action::Sweep(KILL)
        ]
    );
    s.exited("a", ExitStatus::Signaled(KILL));
    s.exited("c", ExitStatus::Signaled(KILL));
    assert_eq!(
        s.exited("b", ExitStatus::Signaled(KILL)),
        vec![Action::Sweep(KILL)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(137)]);
}

#[test]
fn shutdown_timeout_bounds_the_whole_shutdown() {
    let cfg = pod(r#"
[podinit]
shutdown_timeout = "5s"
[process.a]
command = "a"
stop_timeout = "4s"
[process.b]
command = "b"
depends_on = ["a"]
stop_timeout = "4s"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    s.spawned("b");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("b", TERM)]);
    assert_eq!(s.at(4000), vec![s.group("b", KILL)]);
    assert_eq!(
        s.exited("b", ExitStatus::Signaled(KILL)),
        vec![s.group("a", TERM)]
    );
    assert_eq!(
        s.deadline_ms(),
        Some(5000),
        "a's own 8 s deadline is cut to the shutdown's 5 s"
    );
    assert_eq!(s.at(5000), vec![s.group("a", KILL), Action::Sweep(KILL)]);
    assert_eq!(
        s.exited("a", ExitStatus::Signaled(KILL)),
        vec![Action::Sweep(KILL)]
    );
    assert_eq!(
        s.feed(Input::NoChildren),
        vec![Action::Exit(0)],
        "no main: a requested shutdown is 0"
    );
}

#[test]
fn strays_get_term_then_kill_after_the_grace() {
    let cfg = pod(r#"
[process.m]
command = "m"
main = true
stop_timeout = "3s"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("m");
    assert_eq!(
        s.exited("m", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
    // Orphans die on TERM one by one; the pod waits for the table to empty.
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 999,
            status: ExitStatus::Signaled(TERM)
        }),
        vec![]
    );
    assert_eq!(s.deadline_ms(), Some(3000));
    assert_eq!(s.at(3000), vec![Action::Sweep(KILL)]);
    assert_eq!(s.deadline_ms(), None);
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(0)]);
}

#[test]
fn exit_status_follows_the_main_and_its_success_codes() {
    let cases = [
        ("", ExitStatus::Code(3), 3),
        ("", ExitStatus::Code(0), 0),
        ("", ExitStatus::Signaled(KILL), 137),
        ("", ExitStatus::Signaled(TERM), 143),
        ("success_codes = [0, 143]", ExitStatus::Signaled(TERM), 0),
        ("success_codes = [0, 143]", ExitStatus::Code(143), 0),
        ("success_codes = [3]", ExitStatus::Code(0), 0),
    ];
    for (extra, status, want) in cases {
        let cfg = pod(&format!(
            "[process.m]\ncommand = \"m\"\nmain = true\n{extra}\n"
        ));
        let (mut s, _) = Sim::new(&cfg);
        s.spawned("m");
        s.exited("m", status);
        assert_eq!(
            s.feed(Input::NoChildren),
            vec![Action::Exit(want)],
            "{extra} {status:?}"
        );
    }
}

#[test]
fn a_main_that_cannot_execute_ends_the_pod_with_127() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["nope".into()], None));
    let acts = s.feed(Input::SpawnFailed {
        idx: 0,
        status: ExitStatus::Code(127),
    });
    assert_eq!(acts, vec![Action::Sweep(TERM)]);
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(127)]);
}

#[test]
fn requested_shutdown_returns_the_mains_own_status() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["x".into()], None));
    s.spawned("main");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("main", TERM)]);
    s.exited("main", ExitStatus::Code(42));
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(42)]);
}

#[test]
fn drop_in_mode_stops_the_command_with_the_signal_received() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["x".into()], None));
    s.spawned("main");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGINT)),
        vec![s.group("main", libc::SIGINT)]
    );
    // HUP goes to the command too, as with tini.
    let mut s2 = Sim::new(&config::command_only(vec!["x".into()], None)).0;
    s2.spawned("main");
    assert_eq!(
        s2.feed(Input::Signal(libc::SIGHUP)),
        vec![Action::SignalProcess {
            idx: 0,
            pid: 100,
            sig: libc::SIGHUP
        }]
    );
}

#[test]
fn drop_in_mode_forwards_every_shutdown_signal_and_starts_no_timer() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["java".into()], None));
    s.spawned("main");
    // INT, then QUIT, then TERM: each reaches the command, in order, and
    // none starts a stop timer or a forced kill (tini's behaviour).
    for sig in [libc::SIGINT, libc::SIGQUIT, TERM, libc::SIGQUIT, TERM] {
        assert_eq!(s.feed(Input::Signal(sig)), vec![s.group("main", sig)]);
        assert_eq!(s.deadline_ms(), None, "SIG{sig} armed a timer");
    }
    // A JVM's thread dump: it keeps running for as long as it likes.
    assert_eq!(s.at(60_000), vec![]);
    // The command's own status is podinit's once it exits.
    assert_eq!(
        s.exited("main", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(0)]);
}

#[test]
fn drop_in_mode_with_a_stop_timeout_kills_after_it() {
    let cfg = config::command_only(vec!["x".into()], Some(Duration::from_secs(10)));
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("main");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("main", TERM)]);
    assert_eq!(s.deadline_ms(), Some(10_000));
    assert_eq!(s.at(10_000), vec![s.group("main", libc::SIGKILL)]);
}

#[test]
fn forwarding_goes_to_mains_or_to_all_when_there_is_none() {
    let usr1 = libc::SIGUSR1;
    let (mut s, _) = Sim::new(&pod(CHAIN));
    for n in ["a", "b", "c"] {
        s.spawned(n);
    }
    assert_eq!(
        s.feed(Input::Signal(usr1)),
        vec![Action::SignalProcess {
            idx: 2,
            pid: 102,
            sig: usr1
        }]
    );
    // HUP means reload with a config (the supervisor decides: read it
    // again); it is not forwarded.
    assert_eq!(
        s.feed(Input::Signal(libc::SIGHUP)),
        vec![Action::ReadConfig]
    );

    let cfg = pod("[process.a]\ncommand = \"a\"\n[process.b]\ncommand = \"b\"\n");
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGWINCH)),
        vec![Action::SignalProcess {
            idx: 0,
            pid: 100,
            sig: libc::SIGWINCH
        }],
        "b is not running: nothing to forward to"
    );

    let cfg = pod(
        "[process.a]\ncommand = \"a\"\nforward_signals = [\"USR2\"]\n[process.b]\ncommand = \"b\"\nmain = true\n",
    );
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    s.spawned("b");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGUSR2)),
        vec![
            Action::SignalProcess {
                idx: 0,
                pid: 100,
                sig: libc::SIGUSR2
            },
            Action::SignalProcess {
                idx: 1,
                pid: 101,
                sig: libc::SIGUSR2
            }
        ]
    );
}

#[test]
fn a_failed_oneshot_blocks_its_dependents_and_the_pod_fails() {
    let cfg = pod(r#"
[process.cache]
command = "cache"
[process.migrate]
command = "migrate"
oneshot = true
[process.app]
command = "app"
main = true
depends_on = ["migrate", "cache"]
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("cache"), s.spawn("migrate")]);
    s.spawned("cache");
    s.spawned("migrate");
    let acts = s.exited("migrate", ExitStatus::Code(1));
    assert_eq!(s.state("app"), State::Failed);
    assert_eq!(acts, vec![s.group("cache", TERM)]);
    s.exited("cache", ExitStatus::Signaled(TERM));
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(1)]);
}

#[test]
fn a_completed_oneshot_unblocks_its_dependents() {
    let cfg = pod(r#"
[process.init]
command = "init"
oneshot = true
[process.app]
command = "app"
main = true
depends_on = ["init"]
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("init")]);
    assert_eq!(s.spawned("init"), vec![]);
    assert_eq!(s.exited("init", ExitStatus::Code(0)), vec![s.spawn("app")]);
    assert_eq!(s.state("init"), State::Completed);
}

#[test]
fn without_a_main_the_pod_ends_when_nothing_is_left() {
    let two = "[process.a]\ncommand = \"a\"\noneshot = true\n[process.b]\ncommand = \"b\"\noneshot = true\n";
    let (mut s, _) = Sim::new(&pod(two));
    s.spawned("a");
    s.spawned("b");
    assert_eq!(s.exited("a", ExitStatus::Code(0)), vec![]);
    assert_eq!(
        s.exited("b", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(0)]);

    let (mut s, _) = Sim::new(&pod(two));
    s.spawned("a");
    s.spawned("b");
    s.exited("a", ExitStatus::Code(2));
    s.exited("b", ExitStatus::Code(0));
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(1)]);
}

#[test]
fn orphans_and_early_no_children_change_nothing() {
    let (mut s, _) = Sim::new(&pod(CHAIN));
    s.spawned("a");
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 4242,
            status: ExitStatus::Code(0)
        }),
        vec![]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![]);
    assert_eq!(s.state("a"), State::Ready);
}

#[test]
fn a_process_spawned_during_a_shutdown_is_stopped_at_once() {
    let (mut s, first) = Sim::new(&pod(CHAIN));
    assert_eq!(first, vec![s.spawn("a")]);
    // TERM arrives between Spawn and Spawned.
    assert_eq!(s.feed(Input::Signal(TERM)), vec![]);
    assert_eq!(s.spawned("a"), vec![s.group("a", TERM)]);
    assert_eq!(
        s.state("b"),
        State::Waiting,
        "nothing new starts in a shutdown"
    );
}

#[test]
fn quit_starts_a_shutdown_but_a_second_quit_does_not_force() {
    let (mut s, _) = Sim::new(&pod("[process.a]\ncommand = \"a\"\n"));
    s.spawned("a");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGQUIT)),
        vec![s.group("a", TERM)]
    );
    assert_eq!(s.feed(Input::Signal(libc::SIGQUIT)), vec![]);
}

#[test]
fn many_processes_follow_the_plan() {
    // A 50-deep chain: every start waits for the one before, every stop for the one after.
    let mut toml = String::new();
    for i in 0..50 {
        toml += &format!("[process.p{i}]\ncommand = \"x\"\n");
        if i > 0 {
            toml += &format!("depends_on = [\"p{}\"]\n", i - 1);
        }
    }
    let cfg = pod(&toml);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("p0")]);
    for i in 0..50 {
        let acts = s.spawned(&format!("p{i}"));
        if i < 49 {
            assert_eq!(acts, vec![s.spawn(&format!("p{}", i + 1))]);
        }
    }
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("p49", TERM)]);
    for i in (1..50).rev() {
        let acts = s.exited(&format!("p{i}"), ExitStatus::Code(0));
        assert_eq!(acts, vec![s.group(&format!("p{}", i - 1), TERM)]);
    }
}

// ---- lifecycle: restarts, backoff, probes -------------------------------

fn backoff_pod(extra: &str) -> Config {
    pod(&format!(
        "[process.w]\ncommand = \"w\"\nrestart_delay = \"200ms\"\nrestart_delay_max = \"800ms\"\n{extra}\n[process.m]\ncommand = \"m\"\nmain = true\n"
    ))
}

impl Sim {
    /// Lets `name` crash at `at_ms` and returns when its restart is spawned.
    fn crash_at(&mut self, name: &str, at_ms: u64, status: ExitStatus) -> Option<u64> {
        self.at(at_ms);
        let acts = self.exited(name, status);
        assert!(acts.is_empty(), "{acts:?}");
        assert_eq!(self.state(name), State::Backoff);
        let due = self.deadline_ms()? as u64;
        assert_eq!(
            self.at(due - 1),
            vec![],
            "nothing before the backoff is over"
        );
        assert_eq!(self.at(due), vec![self.spawn(name)]);
        self.spawned(name);
        Some(due - at_ms)
    }
}

#[test]
fn backoff_doubles_to_the_max_and_resets_after_a_long_run() {
    let (mut s, _) = Sim::new(&backoff_pod(""));
    s.spawned("w");
    s.spawned("m");
    let crash = ExitStatus::Code(1);
    let mut t = 0;
    let mut delays = Vec::new();
    for _ in 0..5 {
        t += 10; // each run lasts 10 ms
        let d = s.crash_at("w", t, crash).unwrap();
        t += d;
        delays.push(d);
    }
    assert_eq!(delays, [200, 400, 800, 800, 800]);
    assert_eq!(s.sup.procs()[s.idx("w")].restarts, 5);
    // A run longer than restart_delay_max (800 ms) resets the backoff.
    t += 801;
    assert_eq!(s.crash_at("w", t, crash), Some(200));
    // A clean exit under `always` restarts too, with the same backoff.
    t += 300;
    assert_eq!(s.crash_at("w", t, ExitStatus::Code(0)), Some(400));
}

#[test]
fn on_failure_and_never_policies() {
    let (mut s, _) = Sim::new(&backoff_pod("restart = \"on-failure\""));
    s.spawned("w");
    s.spawned("m");
    assert_eq!(
        s.crash_at("w", 5, ExitStatus::Signaled(libc::SIGSEGV)),
        Some(200)
    );
    s.at(300);
    assert_eq!(s.exited("w", ExitStatus::Code(0)), vec![]);
    assert_eq!(
        s.state("w"),
        State::Exited(ExitStatus::Code(0)),
        "a success is final under on-failure"
    );

    let (mut s, _) = Sim::new(&backoff_pod("restart = \"never\""));
    s.spawned("w");
    s.spawned("m");
    assert_eq!(s.exited("w", ExitStatus::Code(3)), vec![]);
    assert_eq!(s.state("w"), State::Exited(ExitStatus::Code(3)));
    assert_eq!(s.deadline_ms(), None);
}

#[test]
fn max_restarts_then_failed_and_critical_ends_the_pod() {
    let (mut s, _) = Sim::new(&backoff_pod("max_restarts = 2\ncritical = true"));
    s.spawned("w");
    s.spawned("m");
    let crash = ExitStatus::Code(7);
    let d1 = s.crash_at("w", 10, crash).unwrap();
    let d2 = s.crash_at("w", 10 + d1 + 10, crash).unwrap();
    // Runs are short (10 ms): no reset of the count.
    s.at(10 + d1 + 10 + d2 + 10);
    // The third failure in a row exceeds max_restarts = 2.
    let acts = s.exited("w", crash);
    assert_eq!(s.state("w"), State::Failed);
    assert_eq!(
        acts,
        vec![s.group("m", TERM)],
        "critical: the pod shuts down"
    );
    s.exited("m", ExitStatus::Signaled(TERM));
    assert_eq!(
        s.feed(Input::NoChildren),
        vec![Action::Exit(7)],
        "the critical process's status"
    );
}

#[test]
fn a_failed_process_that_is_not_critical_leaves_the_pod_running() {
    let (mut s, _) = Sim::new(&backoff_pod("max_restarts = 0"));
    s.spawned("w");
    s.spawned("m");
    assert_eq!(s.exited("w", ExitStatus::Code(1)), vec![]);
    assert_eq!(s.state("w"), State::Failed);
    assert_eq!(s.state("m"), State::Ready);
}

#[test]
fn a_main_with_restarts_ends_the_pod_only_when_it_ends_for_good() {
    let cfg = pod(
        "[process.m]\ncommand = \"m\"\nmain = true\nrestart = \"on-failure\"\nmax_restarts = 1\nrestart_delay = \"100ms\"\n",
    );
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("m");
    assert_eq!(s.crash_at("m", 10, ExitStatus::Code(2)), Some(100));
    s.at(200);
    assert_eq!(
        s.exited("m", ExitStatus::Code(2)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(2)]);

    // A success ends an on-failure main at once, with status 0.
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("m");
    assert_eq!(
        s.exited("m", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(0)]);
}

#[test]
fn failure_propagates_through_a_dependency_chain_with_a_message_naming_it() {
    let chain = r#"
[process.db]
command = "db"
restart = "never"
[process.migrate]
command = "migrate"
oneshot = true
depends_on = ["db"]
[process.app]
command = "app"
main = true
depends_on = ["migrate"]
"#;
    let cfg = pod(chain);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("db");
    assert_eq!(s.sup.procs()[s.idx("migrate")].state, State::Starting);
    s.spawned("migrate");
    // migrate fails: app never starts, the pod ends with 1.
    let acts = s.exited("migrate", ExitStatus::Code(3));
    assert_eq!(acts, vec![s.group("db", TERM)]);
    assert_eq!(s.state("app"), State::Failed);
    let reason = s.sup.procs()[s.idx("app")].reason.clone().unwrap();
    assert_eq!(
        reason,
        "app will not start: it needs migrate to be completed, but migrate exited (exit status 3)"
    );

    // Two levels: db (with a readiness probe) exits before migrate starts.
    let cfg = pod(&chain.replace(
        "restart = \"never\"\n",
        "restart = \"never\"\nready = { tcp = \"localhost:5432\" }\n",
    ));
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("db");
    assert_eq!(
        s.state("db"),
        State::Running,
        "not ready: the probe has not passed"
    );
    s.exited("db", ExitStatus::Code(1));
    let reason = s.sup.procs()[s.idx("app")].reason.clone().unwrap();
    assert_eq!(
        reason,
        "app will not start: it needs migrate to be completed, but migrate will not start: it needs db to be ready, but db exited (exit status 1)"
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(1)]);
}

#[test]
fn readiness_probe_gates_dependents_and_retries_on_its_interval() {
    let cfg = pod(r#"
[process.db]
command = "db"
ready = { tcp = "127.0.0.1:5432", interval = "500ms", timeout = "100ms", initial_delay = "50ms" }
[process.app]
command = "app"
depends_on = ["db"]
"#);
    let (mut s, _) = Sim::new(&cfg);
    assert_eq!(s.spawned("db"), vec![]);
    assert_eq!(s.deadline_ms(), Some(50));
    let probe = |id| Action::Probe {
        id,
        idx: 0,
        pid: 100,
        role: Role::Ready,
    };
    assert_eq!(s.at(50), vec![probe(1)]);
    assert_eq!(s.deadline_ms(), Some(150), "the probe's timeout");
    assert_eq!(
        s.feed(Input::ProbeResult {
            id: 1,
            result: ProbeResult::fail("HTTP 503")
        }),
        vec![]
    );
    assert_eq!(s.deadline_ms(), Some(550));
    assert_eq!(s.at(550), vec![probe(2)]);
    // A timeout counts as a failure, and the probe is cancelled.
    assert_eq!(s.at(650), vec![Action::CancelProbe { id: 2 }]);
    assert_eq!(
        s.feed(Input::ProbeResult {
            id: 2,
            result: ProbeResult::pass("ok")
        }),
        vec![],
        "a late result is ignored"
    );
    assert_eq!(s.at(1150), vec![probe(3)]);
    assert_eq!(
        s.feed(Input::ProbeResult {
            id: 3,
            result: ProbeResult::pass("ok")
        }),
        vec![s.spawn("app")]
    );
    assert_eq!(s.state("db"), State::Ready);
    assert_eq!(
        s.deadline_ms(),
        None,
        "no more probing once ready (no health probe)"
    );
}

#[test]
fn notified_readiness() {
    let cfg = pod(
        "[process.db]\ncommand = \"db\"\nready = { notify_fd = 3 }\n[process.app]\ncommand = \"app\"\ndepends_on = [\"db\"]\n",
    );
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("db");
    assert_eq!(s.deadline_ms(), None, "nothing to poll");
    assert_eq!(s.feed(Input::Notified { pid: 999 }), vec![], "not our pid");
    assert_eq!(s.feed(Input::Notified { pid: 100 }), vec![s.spawn("app")]);
}

#[test]
fn liveness_failures_restart_the_process() {
    let cfg = pod(r#"
[process.web]
command = "web"
stop_timeout = "1s"
restart_delay = "100ms"
health = { http = "http://127.0.0.1:80/", interval = "1s", failures = 2 }
[process.m]
command = "m"
main = true
"#);
    let (mut s, _) = Sim::new(&cfg);
    let probe = |id| Action::Probe {
        id,
        idx: 0,
        pid: 100,
        role: Role::Health,
    };
    assert_eq!(
        s.spawned("web"),
        vec![probe(1)],
        "no initial_delay: the first check at once"
    );
    s.spawned("m");
    s.feed(Input::ProbeResult {
        id: 1,
        result: ProbeResult::pass("ok"),
    });
    assert_eq!(s.at(1000), vec![probe(2)]);
    s.sup.take_events();
    s.feed(Input::ProbeResult {
        id: 2,
        result: ProbeResult::fail("HTTP 503"),
    });
    assert_eq!(
        s.events(EventKind::ProbeFailed),
        vec!["web failed its health check (1 of 2): HTTP 503".to_string()],
        "the reason is in the log"
    );
    assert_eq!(
        s.sup.procs()[0].probe_failure.as_deref(),
        Some("HTTP 503"),
        "and in status"
    );
    assert_eq!(s.at(2000), vec![probe(3)]);
    assert_eq!(
        s.feed(Input::ProbeResult {
            id: 3,
            result: ProbeResult::fail("HTTP 503")
        }),
        vec![s.group("web", TERM)]
    );
    assert_eq!(s.state("web"), State::Stopping);
    // It ignores TERM: SIGKILL after its stop_timeout, then a restart.
    assert_eq!(s.at(3000), vec![s.group("web", KILL)]);
    assert_eq!(s.exited("web", ExitStatus::Signaled(KILL)), vec![]);
    assert_eq!(s.state("web"), State::Backoff);
    assert_eq!(s.at(3100), vec![s.spawn("web")]);
}

#[test]
fn a_shutdown_cancels_backoffs_and_probes() {
    let cfg = pod(r#"
[process.w]
command = "w"
[process.p]
command = "p"
ready = { exec = ["check"] }
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("w");
    let acts = s.spawned("p");
    assert_eq!(
        acts,
        vec![Action::Probe {
            id: 1,
            idx: 1,
            pid: 101,
            role: Role::Ready
        }]
    );
    s.exited("w", ExitStatus::Code(1));
    assert_eq!(s.state("w"), State::Backoff);
    let acts = s.feed(Input::Signal(TERM));
    assert_eq!(
        acts,
        vec![Action::CancelProbe { id: 1 }, s.group("p", TERM)]
    );
    assert_eq!(s.state("w"), State::Exited(ExitStatus::Code(1)));
    assert_eq!(
        s.exited("p", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
}

#[test]
fn a_thousand_crash_restart_cycles_follow_the_backoff_exactly() {
    let cfg = pod(
        "[process.w]\ncommand = \"w\"\nrestart_delay = \"1ms\"\nrestart_delay_max = \"64ms\"\n[process.m]\ncommand = \"m\"\nmain = true\n",
    );
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("w");
    s.spawned("m");
    let mut t = 0;
    for i in 0..1000u32 {
        let want = (1u64 << i.min(6)).min(64);
        let got = s.crash_at("w", t, ExitStatus::Code(1)).unwrap();
        assert_eq!(got, want, "restart {i}");
        t += got;
    }
    assert_eq!(s.sup.procs()[0].restarts, 1000);
}

#[test]
fn backoff_function() {
    let ms = Duration::from_millis;
    assert_eq!(backoff(ms(200), ms(800), 0), ms(200));
    assert_eq!(backoff(ms(200), ms(800), 2), ms(800));
    assert_eq!(backoff(ms(200), ms(800), 40), ms(800));
    assert_eq!(backoff(Duration::ZERO, ms(800), 5), Duration::ZERO);
}

// ---- control verbs and reload -------------------------------------------

#[test]
fn stop_holds_a_process_down_until_start() {
    let (mut s, _) = Sim::new(&pod(
        "[process.w]\ncommand = \"w\"\n[process.m]\ncommand = \"m\"\nmain = true\n",
    ));
    s.spawned("w");
    s.spawned("m");
    let w = s.idx("w");
    assert_eq!(
        s.control(Control::Stop(w)).unwrap(),
        vec![s.group("w", TERM)]
    );
    assert!(s.control(Control::Stop(w)).is_err(), "stopping twice");
    // start while that stop is in flight: it starts once it has exited.
    assert_eq!(s.control(Control::Start(w)).unwrap(), vec![]);
    assert_eq!(
        s.exited("w", ExitStatus::Signaled(TERM)),
        vec![s.spawn("w")]
    );
    s.spawned("w");
    assert_eq!(
        s.control(Control::Stop(w)).unwrap(),
        vec![s.group("w", TERM)]
    );
    assert_eq!(s.exited("w", ExitStatus::Signaled(TERM)), vec![]);
    assert_eq!(s.state("w"), State::Exited(ExitStatus::Signaled(TERM)));
    assert_eq!(s.at(60_000), vec![], "no restart despite restart = always");
    assert_eq!(s.control(Control::Start(w)).unwrap(), vec![s.spawn("w")]);
    s.spawned("w");
    assert!(s.control(Control::Start(w)).is_err(), "already running");
    // restart: stop, then spawn at once, no backoff.
    assert_eq!(
        s.control(Control::Restart(w)).unwrap(),
        vec![s.group("w", TERM)]
    );
    assert_eq!(s.exited("w", ExitStatus::Code(0)), vec![s.spawn("w")]);
    s.spawned("w");
    assert_eq!(
        s.control(Control::Signal(w, libc::SIGUSR2)).unwrap(),
        vec![Action::SignalProcess {
            idx: w,
            pid: 100,
            sig: libc::SIGUSR2
        }]
    );
}

#[test]
fn reload_diffs_by_name_with_stable_indices() {
    let old = pod(
        "[process.keep]\ncommand = \"k\"\n[process.change]\ncommand = \"c\"\n[process.gone]\ncommand = \"g\"\n",
    );
    let (mut s, _) = Sim::new(&old);
    for n in ["keep", "change", "gone"] {
        s.spawned(n);
    }
    let new = pod(
        "[process.fresh]\ncommand = \"f\"\ndepends_on = [\"keep\"]\n[process.keep]\ncommand = \"k\"\n[process.change]\ncommand = \"c2\"\n",
    );
    let acts = s.feed(Input::Reload(Box::new(new)));
    // fresh is appended as index 3; change (1) restarts; gone (2) stops.
    // New log streams come first, for the new and the changed.
    assert_eq!(
        acts,
        vec![
            Action::Rewire(3),
            Action::Rewire(1),
            Action::SignalGroup {
                idx: 1,
                pid: 101,
                sig: TERM
            },
            Action::SignalGroup {
                idx: 2,
                pid: 102,
                sig: TERM
            },
            Action::Spawn(3)
        ]
    );
    assert_eq!(s.sup.current(), vec![0, 1, 3]);
    assert_eq!(
        s.sup.specs()[3].deps[0].on,
        0,
        "dependencies are remapped to stable indices"
    );
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 101,
            status: ExitStatus::Signaled(TERM)
        }),
        vec![Action::Spawn(1)]
    );
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 102,
            status: ExitStatus::Signaled(TERM)
        }),
        vec![]
    );
    assert_eq!(
        s.sup.procs()[2].state,
        State::Exited(ExitStatus::Signaled(TERM))
    );
    assert_eq!(s.sup.procs()[0].pid, Some(100), "untouched keeps running");
}

#[test]
fn reload_requests_are_inputs_and_refusals_are_events() {
    let cfg = pod("[process.a]\ncommand = \"a\"\n");
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    assert_eq!(s.control(Control::Reload), Ok(vec![Action::ReadConfig]));
    // A config that did not parse changes nothing, and says why.
    assert_eq!(
        s.feed(Input::ReloadFailed("pod.toml:3: bad".into())),
        vec![]
    );
    assert_eq!(
        s.events(EventKind::Refused),
        vec!["reload failed, nothing changed: pod.toml:3: bad".to_string()]
    );
    // Without a config file (drop-in mode) there is nothing to reload.
    let (mut d, _) = Sim::new(&config::command_only(vec!["sleep".into()], None));
    assert!(
        d.control(Control::Reload)
            .unwrap_err()
            .contains("nothing to reload")
    );
    // During a shutdown, nothing is asked of the pod any more.
    s.feed(Input::Signal(TERM));
    let a = s.idx("a");
    assert_eq!(
        s.control(Control::Start(a)),
        Err("the pod is shutting down".to_string())
    );
}

#[test]
fn the_sigkill_warning_names_what_was_sent_even_after_a_reload() {
    let old = pod("[process.a]\ncommand = \"a\"\nstop_signal = \"INT\"\nstop_timeout = \"2s\"\n");
    let (mut s, _) = Sim::new(&old);
    s.spawned("a");
    let new = pod("[process.a]\ncommand = \"a2\"\nstop_signal = \"TERM\"\nstop_timeout = \"9s\"\n");
    let acts = s.feed(Input::Reload(Box::new(new)));
    assert!(
        acts.contains(&s.group("a", libc::SIGINT)),
        "stopped as the old spec said: {acts:?}"
    );
    s.sup.take_events();
    assert_eq!(s.at(2_000), vec![s.group("a", KILL)]);
    assert_eq!(
        s.events(EventKind::Killed),
        vec!["a did not stop within 2s of SIGINT; sending SIGKILL".to_string()]
    );
}

#[test]
fn decisions_come_back_as_events() {
    let (mut s, _) = Sim::new(&pod(CHAIN));
    s.spawned("a");
    assert_eq!(
        s.events(EventKind::Started),
        vec!["a started (pid 100)".to_string()]
    );
    s.spawned("b");
    s.spawned("c");
    s.exited("c", ExitStatus::Code(4));
    let shutdown = s.events(EventKind::Shutdown);
    assert_eq!(
        shutdown,
        vec!["main process c ended; shutting the pod down (exit status 4)".to_string()]
    );
}

#[test]
fn health_says_which_process_is_not_ready_and_why() {
    let cfg = pod(r#"
[process.migrate]
command = "m"
oneshot = true
[process.web]
command = "w"
depends_on = ["migrate"]
ready = { http = "http://127.0.0.1:80/" }
[process.db]
command = "d"
critical = true
max_restarts = 0
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("migrate");
    s.spawned("db");
    let e = s.sup.health(Check::Ready).unwrap_err();
    assert_eq!(
        e,
        "not ready: migrate has not completed (it is ready); web is waiting"
    );
    assert_eq!(s.sup.health(Check::Live), Ok("live".to_string()));
    s.exited("migrate", ExitStatus::Code(0));
    let probe = s.spawned("web");
    let e = s.sup.health(Check::Ready).unwrap_err();
    assert_eq!(e, "not ready: web is running");
    // Its probe fails: the reason is in the answer.
    let Some(Action::Probe { id, .. }) = probe.first().cloned() else {
        panic!("{probe:?}")
    };
    s.feed(Input::ProbeResult {
        id,
        result: ProbeResult::fail("HTTP 503"),
    });
    assert_eq!(
        s.sup.health(Check::Ready).unwrap_err(),
        "not ready: web is running (HTTP 503)"
    );
    // Stopped by the operator: not awaited.
    let web = s.idx("web");
    s.control(Control::Stop(web)).unwrap();
    s.exited("web", ExitStatus::Signaled(TERM));
    assert_eq!(
        s.sup.health(Check::Ready),
        Ok("ready: 3 processes".to_string())
    );
    // A critical process failing for good: neither ready nor live.
    s.exited("db", ExitStatus::Code(1));
    assert!(s.sup.health(Check::Live).is_err());
}

#[test]
fn sd_notify_watchdog_mainpid_and_reloading() {
    let cfg = pod(r#"
[process.d]
command = "d"
ready = { sd_notify = true }
watchdog = "1s"
restart_delay = "100ms"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("d");
    let d = s.idx("d");
    let msg = |t: &[u8]| Input::SdNotify {
        idx: d,
        msg: SdMessage::parse(t),
    };
    s.feed(msg(b"READY=1\nSTATUS=up"));
    assert_eq!(s.state("d"), State::Ready);
    assert_eq!(s.sup.procs()[d].status_text.as_deref(), Some("up"));
    // Pings push the deadline; EXTEND_TIMEOUT_USEC further.
    s.at(900);
    s.feed(msg(b"WATCHDOG=1"));
    assert_eq!(s.deadline_ms(), Some(1900));
    s.feed(msg(b"EXTEND_TIMEOUT_USEC=3000000"));
    assert_eq!(s.deadline_ms(), Some(3900));
    // RELOADING=1: not ready until READY=1 again.
    s.feed(msg(b"RELOADING=1"));
    assert_eq!(s.state("d"), State::Running);
    s.feed(msg(b"READY=1"));
    assert_eq!(s.state("d"), State::Ready);
    // MAINPID: a forking daemon's real pid is tracked from now on.
    s.feed(msg(b"MAINPID=4242"));
    assert_eq!(s.sup.procs()[d].pid, Some(4242));
    // A missed deadline: stopped (the new pid's group), then restarted.
    let acts = s.at(2900 + 1000);
    assert_eq!(
        acts,
        vec![Action::SignalGroup {
            idx: d,
            pid: 4242,
            sig: TERM
        }]
    );
    s.feed(Input::Reaped {
        pid: 4242,
        status: ExitStatus::Signaled(TERM),
    });
    assert_eq!(
        s.sup.procs()[d].last_exit_reason,
        Some(ExitReason::Watchdog)
    );
    assert_eq!(s.state("d"), State::Backoff);
}

// ---- scheduled jobs --------------------------------------------------------

const SCHEDULED: &str = r#"
[process.app]
command = "app"
[process.job]
command = "job"
oneshot = true
schedule = "*/5 * * * *"
"#;

/// 2026-12-01 10:02:30 UTC, in ms.
const WALL0: i64 = 1_796_119_350_000;

#[test]
fn a_scheduled_job_runs_at_its_times_and_waits_in_between() {
    let (mut sim, first) = Sim::new_at(&pod(SCHEDULED), WALL0, config::schedule::utc);
    assert_eq!(first, vec![sim.spawn("app")], "not at start: at its time");
    assert_eq!(sim.state("job"), State::Scheduled);
    // 10:05:00 is 150 s away: nothing wakes podinit before.
    assert_eq!(sim.deadline_ms(), Some(150_000));
    assert_eq!(sim.at(149_999), vec![]);
    assert_eq!(sim.at(150_000), vec![sim.spawn("job")]);
    sim.spawned("job");
    sim.sup.take_events();
    sim.exited("job", ExitStatus::Code(0));
    assert_eq!(sim.state("job"), State::Scheduled);
    assert_eq!(
        sim.events(EventKind::Completed),
        ["job completed; next run at 2026-12-01 10:10:00 +0000"]
    );
    assert_eq!(sim.deadline_ms(), Some(450_000));
    let due = sim.sup.procs()[sim.idx("job")].due.unwrap();
    assert_eq!(due.wall * 1000, WALL0 + 450_000);
}

#[test]
fn a_run_still_going_when_the_next_is_due_is_skipped_not_doubled() {
    let (mut sim, _) = Sim::new_at(&pod(SCHEDULED), WALL0, config::schedule::utc);
    assert_eq!(sim.at(150_000), vec![sim.spawn("job")]);
    sim.spawned("job");
    sim.sup.take_events();
    // Still running at 10:10: skipped, said, and the next time is 10:15.
    assert_eq!(sim.at(450_000), vec![]);
    assert_eq!(
        sim.events(EventKind::Skipped),
        [
            "job: the run due now is skipped: the previous run (pid 101) is still going; next run at 2026-12-01 10:15:00 +0000"
        ]
    );
    sim.exited("job", ExitStatus::Code(0));
    assert_eq!(sim.at(750_000), vec![sim.spawn("job")]);
}

#[test]
fn a_failed_run_keeps_the_pod_unless_the_job_is_critical() {
    let (mut sim, _) = Sim::new_at(&pod(SCHEDULED), WALL0, config::schedule::utc);
    sim.at(150_000);
    sim.spawned("job");
    let acts = sim.exited("job", ExitStatus::Code(3));
    assert!(acts.is_empty(), "{acts:?}");
    assert_eq!(sim.state("job"), State::Scheduled);
    assert_eq!(sim.state("app"), State::Starting);
    let critical = format!("{SCHEDULED}critical = true\n");
    let (mut sim, _) = Sim::new_at(&pod(&critical), WALL0, config::schedule::utc);
    sim.spawned("app");
    sim.at(150_000);
    sim.spawned("job");
    let acts = sim.exited("job", ExitStatus::Code(3));
    assert_eq!(
        acts,
        vec![sim.group("app", TERM)],
        "a critical failure stops the pod"
    );
    assert_eq!(sim.state("job"), State::Failed);
}

#[test]
fn every_counts_from_the_last_due_time_and_a_stopped_job_does_not_run() {
    let toml = "[process.job]\ncommand = \"job\"\noneshot = true\nschedule = \"@every 10s\"\n";
    let (mut sim, first) = Sim::new_at(&pod(toml), WALL0, config::schedule::utc);
    assert!(first.is_empty());
    assert_eq!(sim.deadline_ms(), Some(10_000));
    // Fired 300 ms late: the next is still at 20 s, not 20.3 s.
    assert_eq!(sim.at(10_300), vec![sim.spawn("job")]);
    sim.spawned("job");
    sim.exited("job", ExitStatus::Code(0));
    assert_eq!(sim.deadline_ms(), Some(20_000));
    // `podinit stop job`: the times pass without a run until `start`.
    sim.control(Control::Stop(sim.idx("job"))).unwrap();
    assert_eq!(sim.at(20_000), vec![]);
    assert_eq!(sim.deadline_ms(), Some(30_000));
}

#[test]
fn a_wall_clock_set_back_delays_the_run_to_its_time() {
    let (mut sim, _) = Sim::new_at(&pod(SCHEDULED), WALL0, config::schedule::utc);
    // The clock is set back 60 s: at the instant planned, it reads 10:04:00.
    sim.wall0 -= 60_000;
    assert_eq!(sim.at(150_000), vec![]);
    assert_eq!(sim.deadline_ms(), Some(210_000));
    assert_eq!(sim.at(210_000), vec![sim.spawn("job")]);
}

#[test]
fn scheduled_jobs_cost_nothing_per_event_when_not_due() {
    // 1,000 jobs on the same schedule: one deadline, and an event that is
    // not a due time spawns nothing.
    let mut toml = String::new();
    for i in 0..1000 {
        toml +=
            &format!("[process.j{i}]\ncommand = \"j\"\noneshot = true\nschedule = \"@hourly\"\n");
    }
    let (mut sim, first) = Sim::new_at(&pod(&toml), WALL0, config::schedule::utc);
    assert!(first.is_empty());
    assert_eq!(sim.deadline_ms(), Some(3_450_000));
    assert!(sim.at(1_000).is_empty());
    assert_eq!(sim.at(3_450_000).len(), 1000);
}

#[test]
fn two_thousand_exits_each_find_their_process_by_the_pid_index() {
    let mut toml = String::new();
    for i in 0..2000 {
        toml += &format!("[process.p{i}]\ncommand = \"p\"\nrestart = \"never\"\n");
    }
    let (mut sim, first) = Sim::new(&pod(&toml));
    assert_eq!(first.len(), 2000);
    for i in 0..2000 {
        sim.spawned(&format!("p{i}"));
    }
    let scan = |sim: &Sim, pid: Pid| sim.sup.procs().iter().position(|p| p.pid == Some(pid));
    for i in (0..2000).step_by(7) {
        let pid = 100 + i as Pid;
        assert_eq!(sim.sup.index_of(pid), scan(&sim, pid));
    }
    // Exits in an order unlike the spawns': each one ends its own process.
    for i in (0..2000).rev() {
        sim.exited(&format!("p{i}"), ExitStatus::Code(0));
        assert_eq!(
            sim.state(&format!("p{i}")),
            State::Exited(ExitStatus::Code(0))
        );
        assert!(!sim.sup.manages(100 + i as Pid));
    }
    assert_eq!(sim.sup.index_of(100), None);
}

#[test]
fn a_scheduled_job_added_by_a_reload_runs_at_its_times() {
    let (mut sim, _) = Sim::new_at(
        &pod("[process.app]\ncommand = \"app\"\n"),
        WALL0,
        config::schedule::utc,
    );
    sim.spawned("app");
    let acts = sim.feed(Input::Reload(Box::new(pod(SCHEDULED))));
    assert!(!acts.contains(&sim.spawn("job")), "{acts:?}");
    assert_eq!(sim.state("job"), State::Scheduled);
    assert_eq!(sim.deadline_ms(), Some(150_000));
    assert_eq!(sim.at(150_000), vec![sim.spawn("job")]);
}
