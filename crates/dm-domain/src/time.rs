//! Timestamps: UTC, microsecond precision, one fixed-width text form.
//!
//! Keys embed timestamps, so their text must sort like time. The one form
//! written is `2023-03-20T22:52:11.123456+00:00`: always six fraction digits,
//! always `+00:00`. Reading is lenient, because the seed's Python wrote
//! `isoformat()` output, which drops the fraction when it is zero and may carry
//! another offset; such values are normalised to UTC.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, DurationRound, SubsecRound, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Length of the written form, `2023-03-20T22:52:11.123456+00:00`.
pub const TIMESTAMP_LEN: usize = 32;

/// A point in time, UTC, truncated to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// The text is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an RFC 3339 timestamp")]
pub struct InvalidTimestamp {
    /// What was given, cut to a readable length.
    pub input: String,
}

impl Timestamp {
    /// The current time, truncated to the microsecond.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// A timestamp of a chrono time, truncated to the microsecond.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.trunc_subsecs(6))
    }

    /// The chrono time inside.
    pub const fn as_datetime(&self) -> &DateTime<Utc> {
        &self.0
    }

    /// This time plus `delta`, saturating at the representable range.
    pub fn plus(self, delta: TimeDelta) -> Self {
        Self::from_datetime(self.0.checked_add_signed(delta).unwrap_or(self.0))
    }

    /// Seconds since the Unix epoch: the form of expiry times (tokens, the
    /// table's TTL attributes).
    pub fn unix_seconds(self) -> i64 {
        self.0.timestamp()
    }

    /// The current time in seconds since the Unix epoch: the one clock of
    /// expiry times (`Timestamp::now().unix_seconds()`).
    pub fn unix_now() -> i64 {
        Self::now().unix_seconds()
    }

    /// This time rounded down to a whole second; for display.
    pub fn to_second(self) -> DateTime<Utc> {
        self.0
            .duration_trunc(TimeDelta::seconds(1))
            .unwrap_or(self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every key and item carries timestamps: write the fields directly
        // rather than interpreting a format string each time.
        let (date, time) = (self.0.date_naive(), self.0.time());
        let micros = time.nanosecond() / 1000;
        if (0..=9999).contains(&date.year()) && micros < 1_000_000 {
            write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
                date.year(),
                date.month(),
                date.day(),
                time.hour(),
                time.minute(),
                time.second(),
            )
        } else {
            // Years beyond four digits, leap seconds: as chrono writes them.
            write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"))
        }
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s)
            .map(|at| Self::from_datetime(at.with_timezone(&Utc)))
            .map_err(|_| InvalidTimestamp {
                input: s.chars().take(64).collect(),
            })
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self::from_datetime(at)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn written_form_is_fixed_width_utc() {
        let check = |input: &str, expected: &str| {
            let at: Timestamp = input.parse().unwrap();
            assert_eq!(at.to_string(), expected);
            assert_eq!(at.to_string().len(), TIMESTAMP_LEN);
        };
        check(
            "2023-03-20T22:52:11.123456+00:00",
            "2023-03-20T22:52:11.123456+00:00",
        );
        // The seed's isoformat() drops a zero fraction.
        check(
            "2023-03-20T22:52:11+00:00",
            "2023-03-20T22:52:11.000000+00:00",
        );
        check("2023-03-20T22:52:11.5Z", "2023-03-20T22:52:11.500000+00:00");
        // Nanoseconds are truncated, not rounded.
        check(
            "2023-03-20T22:52:11.123456999Z",
            "2023-03-20T22:52:11.123456+00:00",
        );
        // Other offsets are normalised to UTC.
        check(
            "2023-03-21T00:52:11.000001+02:00",
            "2023-03-20T22:52:11.000001+00:00",
        );
    }

    proptest! {
        #[test]
        fn written_form_is_chronos(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999i64) {
            let at = Timestamp::from_datetime(DateTime::from_timestamp_micros(micros).unwrap());
            prop_assert_eq!(
                at.to_string(),
                at.as_datetime().format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
            );
        }
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-03-20 22:52:11",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn text_order_is_time_order(a in 0i64..4_102_444_800_000_000, b in 0i64..4_102_444_800_000_000) {
            let ta = Timestamp::from_datetime(DateTime::from_timestamp_micros(a).unwrap());
            let tb = Timestamp::from_datetime(DateTime::from_timestamp_micros(b).unwrap());
            prop_assert_eq!(ta.cmp(&tb), ta.to_string().cmp(&tb.to_string()));
            prop_assert_eq!(ta.to_string().parse::<Timestamp>().unwrap(), ta);
        }
    }
}
