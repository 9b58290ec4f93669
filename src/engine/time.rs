//! Simulated time: integer nanoseconds, owned types, no `std::time` below the CLI.
//!
//! [`SimTime`] is an instant since the start of a run \[ns\]; [`SimDuration`] a span \[ns\].
//! Both are `u64`, so arithmetic is exact and comparisons are cheap; a run can last
//! about 584 years of simulated time.
//!
//! Durations are written in scenarios as strings with a unit: `"150ms"`, `"2.5s"`,
//! `"40us"`, `"7ns"`, `"1m"`, `"1h"`. Negative, NaN and overflowing values are refused.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant of simulated time since the start of the run \[ns\].
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct SimTime(u64);

/// A span of simulated time \[ns\].
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of time: used as "no bound".
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    /// From seconds as a float; negative and NaN give zero, huge values saturate.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            SimDuration(0)
        } else {
            // `as` saturates on overflow.
            SimDuration((s * 1e9).round() as u64)
        }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub fn saturating_add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
    pub fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }

    /// Parses `"150ms"`, `"2.5s"`, `"40us"`, `"7ns"`, `"1m"`, `"1h"` (whitespace allowed
    /// between number and unit).
    pub fn parse(text: &str) -> Result<SimDuration, DurationError> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            .unwrap_or(t.len());
        // "1e3ms" is accepted; but a bare 'e' could swallow nothing else: units never start with e.
        let (num, unit) = t.split_at(split);
        let unit = unit.trim();
        if num.is_empty() {
            return Err(DurationError::Syntax(text.to_string()));
        }
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            "" => return Err(DurationError::MissingUnit(text.to_string())),
            _ => return Err(DurationError::Unit(text.to_string(), unit.to_string())),
        };
        let value: f64 = num.parse().map_err(|_| DurationError::Syntax(text.to_string()))?;
        if value.is_nan() {
            return Err(DurationError::Syntax(text.to_string()));
        }
        if value < 0.0 {
            return Err(DurationError::Negative(text.to_string()));
        }
        let ns = value * scale;
        if !ns.is_finite() || ns >= u64::MAX as f64 {
            return Err(DurationError::Overflow(text.to_string()));
        }
        Ok(SimDuration(ns.round() as u64))
    }
}

/// Why a duration string was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration (write e.g. \"150ms\", \"2.5s\", \"40us\")")]
    Syntax(String),
    #[error("`{0}` has no unit (write e.g. \"{0}ms\"; units: ns, us, ms, s, m, h)")]
    MissingUnit(String),
    #[error("`{0}` has unknown unit `{1}` (units: ns, us, ms, s, m, h)")]
    Unit(String, String),
    #[error("`{0}` is negative; durations must be >= 0")]
    Negative(String),
    #[error("`{0}` is too long for the simulator (max about 584 years)")]
    Overflow(String),
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Saturating: an earlier minus a later instant is zero.
    #[inline]
    fn sub(self, o: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(o.0))
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(o.0))
    }
}
impl AddAssign for SimDuration {
    #[inline]
    fn add_assign(&mut self, o: SimDuration) {
        self.0 = self.0.saturating_add(o.0);
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn sub(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(o.0))
    }
}
impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

fn fmt_ns(ns: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if ns == 0 {
        return write!(f, "0s");
    }
    let (div, unit) = if ns.is_multiple_of(1_000_000_000) {
        (1_000_000_000, "s")
    } else if ns.is_multiple_of(1_000_000) {
        (1_000_000, "ms")
    } else if ns.is_multiple_of(1_000) {
        (1_000, "us")
    } else {
        (1, "ns")
    };
    write!(f, "{}{}", ns / div, unit)
}

impl fmt::Display for SimDuration {
    /// Exact and re-parsable: `150ms`, `2500us`, `7ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_ns(self.0, f)
    }
}
impl fmt::Display for SimTime {
    /// Seconds with nanosecond precision: `t=1.250000000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0 / 1_000_000_000, self.0 % 1_000_000_000)
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
/// The pattern of a duration string as [`SimDuration::parse`] reads it: a non-negative
/// decimal number (optionally with an exponent) and a unit, surrounding whitespace allowed.
/// Values too long for the simulator (about 584 years) pass the pattern and are refused at
/// load.
pub const DURATION_PATTERN: &str = r"^\s*\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*(ns|us|µs|ms|s|m|min|h)\s*$";

impl schemars::JsonSchema for SimDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SimDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration: a non-negative number and a unit, e.g. \"150ms\", \"2.5s\", \"40us\", \"7ns\", \"1m\" (or \"1min\"), \"1h\"; units ns, us (or µs), ms, s, m/min, h.",
            "examples": ["150ms", "2.5s", "40us"]
        })
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SimDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_units() {
        assert_eq!(SimDuration::parse("150ms").unwrap(), SimDuration::from_millis(150));
        assert_eq!(SimDuration::parse("2.5s").unwrap(), SimDuration::from_millis(2500));
        assert_eq!(SimDuration::parse("40us").unwrap(), SimDuration::from_micros(40));
        assert_eq!(SimDuration::parse("7ns").unwrap(), SimDuration::from_nanos(7));
        assert_eq!(SimDuration::parse("1m").unwrap(), SimDuration::from_secs(60));
        assert_eq!(SimDuration::parse(" 3 ms ").unwrap(), SimDuration::from_millis(3));
    }

    #[test]
    fn parse_refuses_bad_values() {
        assert!(matches!(SimDuration::parse("-5ms"), Err(DurationError::Negative(_))));
        assert!(matches!(SimDuration::parse("5"), Err(DurationError::MissingUnit(_))));
        assert!(matches!(SimDuration::parse("5 parsecs"), Err(DurationError::Unit(..))));
        assert!(matches!(SimDuration::parse("NaNms"), Err(DurationError::Syntax(_))));
        assert!(matches!(SimDuration::parse("1e300s"), Err(DurationError::Overflow(_))));
        assert!(SimDuration::parse("").is_err());
    }

    #[test]
    fn display_roundtrips() {
        for d in [0, 7, 40_000, 150_000_000, 2_000_000_000, 2_500_000] {
            let d = SimDuration::from_nanos(d);
            assert_eq!(SimDuration::parse(&d.to_string()).unwrap(), d);
        }
    }
}
