//! Restarts, backoff and probes.

use super::*;

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

#[test]
fn a_readiness_probe_with_failures_restarts_a_process_that_never_gets_ready() {
    // Kubernetes' startupProbe failureThreshold.
    let cfg = pod(r#"
[process.slow]
command = "slow"
restart = "always"
restart_delay = "1s"
ready = { tcp = "127.0.0.1:1", interval = "1s", failures = 2 }
"#);
    let (mut s, _) = Sim::new(&cfg);
    let fail = |id| Input::ProbeResult {
        id,
        result: ProbeResult::fail("connection refused"),
    };
    let probe = |id| Action::Probe {
        id,
        idx: 0,
        pid: 100,
        role: Role::Ready,
    };
    assert_eq!(s.spawned("slow"), vec![probe(1)]);
    assert_eq!(s.feed(fail(1)), vec![]);
    assert_eq!(s.at(1000), vec![probe(2)]);
    assert_eq!(s.feed(fail(2)), vec![s.group("slow", TERM)]);
    assert!(s.events(EventKind::Unhealthy)[0].contains("did not become ready in 2 tries"));
    s.exited("slow", ExitStatus::Signaled(TERM));
    assert_eq!(s.state("slow"), State::Backoff);
}

#[test]
fn readiness_is_counted_as_kubernetes_counts_it_for_the_process_life() {
    let cfg = pod(r#"
[process.web]
command = "web"
readiness = { http = "http://127.0.0.1:8080/ready", interval = "1s", failures = 2, successes = 2 }
"#);
    let (mut s, _) = Sim::new(&cfg);
    let probe = |id, role| Action::Probe {
        id,
        idx: 0,
        pid: 100,
        role,
    };
    let res = |id, ok: bool| Input::ProbeResult {
        id,
        result: if ok {
            ProbeResult::pass("HTTP 200")
        } else {
            ProbeResult::fail("HTTP 503")
        },
    };
    // The first pass is the gate (retried for ever).
    assert_eq!(s.spawned("web"), vec![probe(1, Role::Ready)]);
    s.feed(res(1, true));
    assert_eq!(s.state("web"), State::Ready);
    assert!(s.sup.health(Check::Ready).is_ok());
    assert_eq!(s.at(1000), vec![probe(2, Role::Readiness)]);
    s.feed(res(2, false));
    assert!(s.sup.health(Check::Ready).is_ok(), "one failure of two");
    assert_eq!(s.at(2000), vec![probe(3, Role::Readiness)]);
    s.feed(res(3, false));
    let e = s.sup.health(Check::Ready).unwrap_err();
    assert!(e.contains("web is not-ready (HTTP 503)"), "{e}");
    assert_eq!(s.sup.procs()[0].state_name(), "not-ready");
    assert!(
        s.events(EventKind::NotReady)
            .iter()
            .any(|t| t.contains("failed 2 times in a row"))
    );
    s.at(3000);
    s.feed(res(4, true));
    assert!(s.sup.health(Check::Ready).is_err(), "one success of two");
    s.at(4000);
    s.feed(res(5, true));
    assert!(s.sup.health(Check::Ready).is_ok());
    assert_eq!(
        s.state("web"),
        State::Ready,
        "never restarted, never re-gated"
    );
}

#[test]
fn the_pod_conditions_follow_init_sidecar_and_main() {
    let cfg = pod(r#"
[process.init]
command = "init"
oneshot = true
[process.proxy]
command = "proxy"
depends_on = { init = "completed" }
ready = { tcp = "127.0.0.1:1" }
[process.app]
command = "app"
depends_on = { proxy = "ready" }
main = true
"#);
    let (mut s, _) = Sim::new(&cfg);
    let c = |s: &Sim| s.sup.conditions().map(|(_, v)| v);
    assert_eq!(c(&s), [false, false, false]);
    s.spawned("init");
    s.exited("init", ExitStatus::Code(0));
    s.spawned("proxy");
    assert_eq!(c(&s), [false, false, false], "app has not started");
    s.feed(Input::ProbeResult {
        id: 1,
        result: ProbeResult::pass("connected"),
    });
    s.spawned("app");
    assert_eq!(c(&s), [true, true, true]);
    assert_eq!(
        s.sup.conditions_line(),
        "Initialized=True ContainersReady=True Ready=True"
    );
}

#[test]
fn restart_codes_restart_whatever_the_policy_says() {
    let cfg = pod(r#"
[process.job]
command = "job"
main = true
restart = "never"
restart_codes = [42]
restart_delay = "1s"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("job");
    s.exited("job", ExitStatus::Code(42));
    assert_eq!(s.state("job"), State::Backoff);
    assert_eq!(s.at(1000), vec![s.spawn("job")]);
    s.spawned("job");
    let acts = s.exited("job", ExitStatus::Code(3));
    assert!(
        acts.contains(&Action::Exit(3)) || s.state("job") != State::Backoff,
        "{acts:?}"
    );
}
