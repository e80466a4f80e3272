//! CPU time of this process and of the calling thread (getrusage).

use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};

/// User and system CPU time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Time in the program.
    pub user: Duration,
    /// Time in the kernel on its behalf (system calls, the network stack).
    pub system: Duration,
}

impl Usage {
    /// User and system time together.
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// This and `other` together.
    pub fn plus(self, other: Self) -> Self {
        Self {
            user: self.user + other.user,
            system: self.system + other.system,
        }
    }

    /// The time spent since `earlier`, never negative.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

fn usage(who: UsageWho) -> Usage {
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_micros(t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64)
    };
    match getrusage(who) {
        Ok(u) => Usage {
            user: micros(u.user_time()),
            system: micros(u.system_time()),
        },
        Err(_) => Usage::default(),
    }
}

/// CPU time of the whole process.
pub fn process() -> Usage {
    usage(UsageWho::RUSAGE_SELF)
}

/// CPU time of the calling thread.
pub fn thread() -> Usage {
    usage(UsageWho::RUSAGE_THREAD)
}
