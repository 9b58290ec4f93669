//! Arrival processes of workload flows: the gap before each next arrival, drawn from the
//! flow's own stream (a Poisson process draws one exponential gap per arrival, a periodic one
//! draws nothing).

use rand::Rng;
use rand_distr::{Distribution, Exp};

use super::SimDuration;

/// An arrival process.
#[derive(Clone, Debug)]
pub enum Arrival {
    /// Exponential gaps of mean 1/rate \[s\].
    Poisson(Exp<f64>),
    /// A fixed gap.
    Periodic(SimDuration),
}

impl Arrival {
    /// A Poisson process of `rate_per_s` arrivals per second (finite, > 0).
    pub fn poisson(rate_per_s: f64) -> Result<Arrival, String> {
        if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
            return Err(format!("rate {rate_per_s}/s must be finite and > 0"));
        }
        Exp::new(rate_per_s).map(Arrival::Poisson).map_err(|e| e.to_string())
    }

    /// The gap before the next arrival.
    pub fn next_gap<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        match self {
            Arrival::Poisson(exp) => SimDuration::from_secs_f64(exp.sample(rng)),
            Arrival::Periodic(d) => *d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream;

    #[test]
    fn gaps_follow_the_process_and_bad_rates_are_refused() {
        let mut rng = stream(7, "flow:x");
        let p = Arrival::poisson(100.0).unwrap();
        let n = 20_000;
        let mean: f64 = (0..n).map(|_| p.next_gap(&mut rng).as_secs_f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.01).abs() < 0.0005, "mean gap {mean}");
        let d = SimDuration::from_millis(250);
        assert_eq!(Arrival::Periodic(d).next_gap(&mut rng), d);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Arrival::poisson(bad).is_err(), "{bad}");
        }
    }
}
