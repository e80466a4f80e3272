//! CPU time of this process and of the calling thread (getrusage).

use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};

fn usage(who: UsageWho) -> Duration {
    match getrusage(who) {
        Ok(u) => {
            let micros =
                |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
            Duration::from_micros(micros(u.user_time()) + micros(u.system_time()))
        }
        Err(_) => Duration::ZERO,
    }
}

/// CPU time of the whole process, user and system.
pub fn process() -> Duration {
    usage(UsageWho::RUSAGE_SELF)
}

/// CPU time of the calling thread, user and system.
pub fn thread() -> Duration {
    usage(UsageWho::RUSAGE_THREAD)
}
