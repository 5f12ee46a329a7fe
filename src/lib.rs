//! podinit as a library: the pieces the binary (`src/main.rs`) puts
//! together, exposed so that fuzz targets and property tests can drive the
//! config parser and the supervisor directly. See ARCHITECTURE.md.

pub mod config;
pub mod control;
pub mod import;
pub mod json;
pub mod logs;
pub mod plan;
pub mod poll;
pub mod runtime;
pub mod spawn;
pub mod supervisor;
pub mod sys;
pub mod users;

/// podinit's exit status when a bug made it panic (after it killed and
/// reaped the pod): EX_SOFTWARE of sysexits.h, distinct from any status a
/// main process gives; decided with the others in `supervisor::exit_status`.
pub fn exit_panic() -> i32 {
    supervisor::exit_status(supervisor::Ending::Panic)
}

/// The last resort of PID 1: if podinit ever panics, say so, kill every
/// process of the pod, reap them all, and exit with [`exit_panic`] — never
/// leave the container with an init that is gone or wedged.
pub fn install_panic_guard() {
    std::panic::set_hook(Box::new(|info| {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "podinit: error: internal error ({info}); killing the pod and exiting {}\n",
                exit_panic()
            )
            .as_bytes(),
        );
        runtime::kill_everything();
        // SAFETY: leaving at once, without unwinding or running destructors.
        unsafe { libc::_exit(exit_panic()) };
    }));
}

/// Marks every fd podinit inherited beyond 0–2 close-on-exec, so that no
/// process of the pod gets a descriptor of podinit's parent.
pub fn cloexec_inherited_fds() {
    // SAFETY: close_range with the CLOEXEC flag only sets flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return;
    }
    // Kernels before 5.11: one fd at a time.
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        for fd in fds.into_iter().filter(|&fd| fd > 2) {
            let _ = nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            );
        }
    }
}
