//! `start = "on-demand"`.

use super::*;

#[test]
fn an_on_demand_process_starts_at_a_connection_and_waits_again_after_a_clean_exit() {
    let cfg = pod(r#"
[process.api]
command = "api"
listen = ["tcp:127.0.0.1:8080"]
start = "on-demand"
[process.web]
command = "web"
depends_on = { api = "ready" }
"#);
    let (mut s, first) = Sim::new(&cfg);
    let api = s.idx("api");
    // Its dependents need only its sockets.
    assert_eq!(
        first,
        vec![Action::ArmSockets { idx: api, on: true }, s.spawn("web")]
    );
    assert_eq!(s.sup.procs()[api].state_name(), "on-demand");
    let acts = s.feed(Input::Demand { idx: api });
    assert_eq!(
        acts,
        vec![
            Action::ArmSockets {
                idx: api,
                on: false
            },
            s.spawn("api")
        ]
    );
    s.spawned("api");
    let acts = s.exited("api", ExitStatus::Code(0));
    assert_eq!(
        acts,
        vec![Action::ArmSockets { idx: api, on: true }],
        "idle exit: wait again"
    );
    // A failure follows the policy (always, for a long-running process).
    s.feed(Input::Demand { idx: api });
    s.spawned("api");
    s.exited("api", ExitStatus::Code(1));
    assert_eq!(s.state("api"), State::Backoff);
}
