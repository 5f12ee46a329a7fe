//! podinit as a library: the pieces the binary (`src/main.rs`) puts
//! together, exposed so that fuzz targets and property tests can drive the
//! config parser and the supervisor directly. See ARCHITECTURE.md.

pub mod config;
pub mod control;
pub mod logs;
pub mod plan;
pub mod runtime;
pub mod spawn;
pub mod supervisor;
pub mod users;

/// podinit's exit status when a bug made it panic (after it killed and
/// reaped the pod): EX_SOFTWARE of sysexits.h, distinct from any status a
/// main process gives.
pub const EXIT_PANIC: i32 = 70;

/// The last resort of PID 1: if podinit ever panics, say so, kill every
/// process of the pod, reap them all, and exit with [`EXIT_PANIC`] — never
/// leave the container with an init that is gone or wedged.
pub fn install_panic_guard() {
    std::panic::set_hook(Box::new(|info| {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("podinit: error: internal error ({info}); killing the pod and exiting {EXIT_PANIC}\n").as_bytes(),
        );
        runtime::kill_everything();
        // SAFETY: leaving at once, without unwinding or running destructors.
        unsafe { libc::_exit(EXIT_PANIC) };
    }));
}
