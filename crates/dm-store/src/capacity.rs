//! Consumed capacity, as DynamoDB reports it per call: summed per repository
//! (and its clones), so the benchmark and the tests can say what each access
//! pattern costs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Capacity units consumed, summed over calls; shared by clones of a repository.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

/// Capacity consumed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    /// Read capacity units (reads, queries).
    pub read: f64,
    /// Write capacity units (puts, deletes, transactions, index updates).
    pub write: f64,
}

impl Capacity {
    /// Reads and writes together.
    pub fn total(&self) -> f64 {
        self.read + self.write
    }
}

impl CapacityMeter {
    pub(crate) fn add(&self, write: bool, units: f64) {
        let milli = (units * 1000.0).round() as u64;
        let counter = if write {
            &self.write_milli
        } else {
            &self.read_milli
        };
        counter.fetch_add(milli, Ordering::Relaxed);
    }

    /// The units consumed so far.
    pub fn snapshot(&self) -> Capacity {
        Capacity {
            read: self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            write: self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}
