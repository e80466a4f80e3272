//! Consumed capacity, summed per repository (and its clones), so the
//! benchmark and the tests can say what each access pattern costs: the units
//! AWS bills ([`crate::billing`]'s arithmetic over the items each call reads
//! and writes), and beside them the units DynamoDB reported
//! (`ReturnConsumedCapacity`), which DynamoDB Local under-counts for
//! transactions.

use std::sync::atomic::{AtomicU64, Ordering};

/// Capacity units consumed, summed over calls; shared by clones of a repository.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    billed: Counters,
    reported: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

impl Counters {
    fn add(&self, write: bool, units: f64) {
        let milli = (units * 1000.0).round() as u64;
        let counter = if write {
            &self.write_milli
        } else {
            &self.read_milli
        };
        counter.fetch_add(milli, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Capacity {
        Capacity {
            read: self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            write: self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

/// Capacity units of one kind (billed or reported).
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

/// Capacity consumed so far: as AWS bills it, and as DynamoDB reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Consumed {
    /// By DynamoDB's published rules ([`crate::billing`]): what AWS bills.
    pub billed: Capacity,
    /// As `ReturnConsumedCapacity` reported it (none in memory). Right for
    /// single calls; DynamoDB Local reports any small transaction as 2 units.
    pub reported: Capacity,
}

impl Consumed {
    /// The billed units, reads and writes together.
    pub fn total(&self) -> f64 {
        self.billed.total()
    }
}

impl std::ops::Add for Capacity {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            read: self.read + other.read,
            write: self.write + other.write,
        }
    }
}

impl std::ops::Sub for Capacity {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        Self {
            read: self.read - other.read,
            write: self.write - other.write,
        }
    }
}

impl std::ops::Add for Consumed {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            billed: self.billed + other.billed,
            reported: self.reported + other.reported,
        }
    }
}

impl std::ops::Sub for Consumed {
    type Output = Self;
    /// What was consumed between two readings.
    fn sub(self, other: Self) -> Self {
        Self {
            billed: self.billed - other.billed,
            reported: self.reported - other.reported,
        }
    }
}

impl CapacityMeter {
    /// Adds what AWS bills for a call.
    pub(crate) fn bill(&self, write: bool, units: f64) {
        self.billed.add(write, units);
    }

    /// Adds what DynamoDB reported for a call.
    pub(crate) fn report(&self, write: bool, units: f64) {
        self.reported.add(write, units);
    }

    /// The units consumed so far.
    pub fn snapshot(&self) -> Consumed {
        Consumed {
            billed: self.billed.snapshot(),
            reported: self.reported.snapshot(),
        }
    }
}
