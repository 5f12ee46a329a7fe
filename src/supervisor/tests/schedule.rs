//! Scheduled jobs.

use super::*;

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
