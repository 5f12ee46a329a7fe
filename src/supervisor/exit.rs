//! podinit's exit status: one function, row by row the README's table
//! ("Exit status"), each row with its test below.

use super::ExitStatus;

/// How the pod ended, as far as the exit status cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A main process ended the pod (by itself, or stopped in a requested
    /// shutdown): its status, and whether it is one of its success codes.
    MainEnded { status: ExitStatus, success: bool },
    /// A requested shutdown (TERM, INT, QUIT) of a pod without a main.
    RequestedNoMain,
    /// No main, and nothing was left to run: whether every process ended
    /// with one of its success codes.
    RanOut { all_succeeded: bool },
    /// A main process could never start (a dependency failed for good).
    MainNeverStarts,
    /// A critical process failed for good (or can never start): its last
    /// status, if it ran.
    CriticalFailed { status: Option<ExitStatus> },
    /// A usage or config error: nothing started.
    UsageOrConfig,
    /// The event loop could not be set up (epoll, signalfd): nothing started.
    LoopSetup,
    /// podinit itself hit a bug; it killed and reaped the pod first.
    Panic,
}

/// The status podinit exits with.
pub fn exit_status(ending: Ending) -> i32 {
    match ending {
        Ending::MainEnded { success: true, .. } => 0,
        Ending::MainEnded { status, .. } => status.shell_code(),
        Ending::RequestedNoMain => 0,
        Ending::RanOut { all_succeeded } => i32::from(!all_succeeded),
        Ending::MainNeverStarts => 1,
        Ending::CriticalFailed { status } => match status.map(ExitStatus::shell_code) {
            Some(code) if code != 0 => code,
            _ => 1,
        },
        Ending::UsageOrConfig => 2,
        Ending::LoopSetup => 1,
        Ending::Panic => 70,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test per row of the README's table, in its order.

    #[test]
    fn a_main_process_ended_the_pod() {
        let e = |status, success| exit_status(Ending::MainEnded { status, success });
        assert_eq!(e(ExitStatus::Code(3), false), 3);
        assert_eq!(e(ExitStatus::Signaled(9), false), 137);
        assert_eq!(e(ExitStatus::Code(3), true), 0, "in its success_codes");
    }

    #[test]
    fn requested_shutdown_with_a_main() {
        // The main's status as it stopped: 143 if TERM killed it.
        let e = Ending::MainEnded {
            status: ExitStatus::Signaled(15),
            success: false,
        };
        assert_eq!(exit_status(e), 143);
    }

    #[test]
    fn requested_shutdown_no_main() {
        assert_eq!(exit_status(Ending::RequestedNoMain), 0);
    }

    #[test]
    fn no_main_the_pod_ran_out_of_processes() {
        assert_eq!(
            exit_status(Ending::RanOut {
                all_succeeded: true
            }),
            0
        );
        assert_eq!(
            exit_status(Ending::RanOut {
                all_succeeded: false
            }),
            1
        );
    }

    #[test]
    fn a_main_could_never_start() {
        assert_eq!(exit_status(Ending::MainNeverStarts), 1);
    }

    #[test]
    fn a_critical_process_failed() {
        let e = |status| exit_status(Ending::CriticalFailed { status });
        assert_eq!(e(Some(ExitStatus::Code(4))), 4);
        assert_eq!(e(Some(ExitStatus::Code(0))), 1);
        assert_eq!(e(None), 1, "it never ran");
    }

    #[test]
    fn usage_or_config_error() {
        assert_eq!(exit_status(Ending::UsageOrConfig), 2);
    }

    #[test]
    fn the_event_loop_could_not_be_set_up() {
        assert_eq!(exit_status(Ending::LoopSetup), 1);
    }

    #[test]
    fn podinit_hit_a_bug() {
        assert_eq!(exit_status(Ending::Panic), 70);
    }
}
