//! One direction of a link: latency distribution, loss as TCP retransmission delay,
//! bandwidth with FIFO serialisation, and down windows.
//!
//! ```text
//!   enter at t ─► wait for the transmitter (busy_until) ─► serialise size/bandwidth
//!             ─► attempt: down or lost? wait RTO (doubling, max 120 s), try again
//!             ─► propagate: + latency sample ─► arrive
//! ```
//!
//! HTTP/2 runs over TCP, so a lost transmission is not a lost message: the sender
//! retransmits after its retransmission timeout (RTO), which doubles at each consecutive
//! loss (RFC 6298 5.5) up to 120 s (Linux `TCP_RTO_MAX`). After 15 retransmissions
//! (Linux `tcp_retries2`) the connection is given up. A link that is down behaves like a
//! link that loses everything, so an outage shorter than the backoff schedule delays the
//! message to the first retransmission after the link comes back.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal};

use crate::engine::{SimDuration, SimRng, SimTime};
use crate::scenario::LatencySpec;

/// Retransmissions before a connection is given up (Linux `tcp_retries2`).
pub const MAX_RETRANSMISSIONS: u32 = 15;
/// The largest retransmission timeout (Linux `TCP_RTO_MAX`).
pub const RTO_MAX: SimDuration = SimDuration::from_secs(120);
/// The default first retransmission timeout (Linux `TCP_RTO_MIN`).
pub const RTO_DEFAULT: SimDuration = SimDuration::from_millis(200);

/// A latency distribution, ready to sample \[ns\].
#[derive(Clone, Debug)]
pub enum Latency {
    Constant(u64),
    Uniform {
        min: u64,
        max: u64,
    },
    Normal(Normal<f64>),
    /// With its mean exp(mu + sigma^2 / 2) \[ns\], kept for routing weights.
    LogNormal {
        dist: LogNormal<f64>,
        mean: f64,
    },
    Exponential {
        mean: f64,
        exp: Exp<f64>,
    },
    Empirical(Vec<u64>),
}

/// A latency parameter that cannot be sampled (validation normally catches these first).
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
#[error("invalid latency distribution: {0}")]
pub struct LatencyError(pub String);

impl Latency {
    pub fn from_spec(spec: &LatencySpec) -> Result<Latency, LatencyError> {
        Ok(match spec {
            LatencySpec::Constant(d) => Latency::Constant(d.as_nanos()),
            LatencySpec::Uniform { min, max } => {
                if min > max {
                    return Err(LatencyError(format!("uniform min {min} > max {max}")));
                }
                Latency::Uniform {
                    min: min.as_nanos(),
                    max: max.as_nanos(),
                }
            }
            LatencySpec::Normal { mean, std } => Latency::Normal(
                Normal::new(mean.as_nanos() as f64, std.as_nanos() as f64)
                    .map_err(|e| LatencyError(format!("normal: {e}")))?,
            ),
            LatencySpec::LogNormal { median, sigma } => {
                if !sigma.is_finite() || *sigma < 0.0 || median.as_nanos() == 0 {
                    return Err(LatencyError(format!("lognormal median {median} sigma {sigma}")));
                }
                let mu = (median.as_nanos() as f64).ln();
                Latency::LogNormal {
                    dist: LogNormal::new(mu, *sigma).map_err(|e| LatencyError(format!("lognormal: {e}")))?,
                    mean: (mu + sigma * sigma / 2.0).exp(),
                }
            }
            LatencySpec::Exponential { mean } => {
                let m = mean.as_nanos() as f64;
                if m <= 0.0 {
                    Latency::Constant(0)
                } else {
                    Latency::Exponential {
                        mean: m,
                        exp: Exp::new(1.0 / m).map_err(|e| LatencyError(format!("exponential: {e}")))?,
                    }
                }
            }
            LatencySpec::Empirical(v) => {
                if v.is_empty() {
                    return Err(LatencyError("empirical list is empty".into()));
                }
                Latency::Empirical(v.iter().map(|d| d.as_nanos()).collect())
            }
        })
    }

    /// The mean \[ns\] (routing weight).
    pub fn mean_ns(&self) -> f64 {
        match self {
            Latency::Constant(c) => *c as f64,
            Latency::Uniform { min, max } => (*min as f64 + *max as f64) / 2.0,
            // Truncation at zero shifts the mean up a little; negligible when std << mean.
            Latency::Normal(n) => n.mean().max(0.0),
            Latency::LogNormal { mean, .. } => *mean,
            Latency::Exponential { mean, .. } => *mean,
            Latency::Empirical(v) => v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64,
        }
    }

    /// One sample \[ns\], never negative.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        match self {
            Latency::Constant(c) => *c,
            Latency::Uniform { min, max } => {
                if min == max {
                    *min
                } else {
                    rng.random_range(*min..=*max)
                }
            }
            Latency::Normal(n) => n.sample(rng).max(0.0).round() as u64,
            Latency::LogNormal { dist, .. } => dist.sample(rng).round() as u64,
            Latency::Exponential { exp, .. } => exp.sample(rng).round() as u64,
            Latency::Empirical(v) => v[rng.random_range(0..v.len())],
        }
    }
}

/// What a transmission over one link direction did.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Transit {
    /// Arrives at the far end at this time, after this many retransmissions.
    Arrives { at: SimTime, retransmissions: u32 },
    /// Given up at this time (outage or loss beyond the retransmission budget).
    GivenUp { at: SimTime },
}

/// One direction of a link, with its own state and RNG stream.
#[derive(Clone, Debug)]
pub struct Link {
    pub latency: Latency,
    /// Loss probability per transmission attempt.
    pub loss: f64,
    /// First retransmission timeout.
    pub rto: SimDuration,
    /// \[bit/s\]; `None` = unlimited.
    pub bandwidth_bps: Option<f64>,
    /// Down windows [from, to); `to = None`: down until the end.
    pub down: Vec<(SimTime, Option<SimTime>)>,
    busy_until: SimTime,
    rng: SimRng,
}

impl Link {
    pub fn new(
        latency: Latency,
        loss: f64,
        rto: SimDuration,
        bandwidth_bps: Option<f64>,
        down: Vec<(SimTime, Option<SimTime>)>,
        rng: SimRng,
    ) -> Link {
        Link {
            latency,
            loss,
            rto,
            bandwidth_bps,
            down,
            busy_until: SimTime::ZERO,
            rng,
        }
    }

    /// Whether the link is down at `t`.
    pub fn is_down(&self, t: SimTime) -> bool {
        self.down
            .iter()
            .any(|&(from, to)| t >= from && to.is_none_or(|to| t < to))
    }

    /// Transmits `bytes` entering the link at `at`.
    pub fn transmit(&mut self, at: SimTime, bytes: u32) -> Transit {
        let mut t = at;
        if let Some(bps) = self.bandwidth_bps {
            let start = t.max(self.busy_until);
            let ser = SimDuration::from_secs_f64(bytes as f64 * 8.0 / bps);
            self.busy_until = start + ser;
            t = self.busy_until;
        }
        let mut rto = self.rto;
        let mut retransmissions = 0;
        loop {
            let lost = self.is_down(t) || (self.loss > 0.0 && self.rng.random::<f64>() < self.loss);
            if !lost {
                break;
            }
            if retransmissions == MAX_RETRANSMISSIONS {
                return Transit::GivenUp { at: t };
            }
            t += rto;
            rto = (rto * 2).min(RTO_MAX);
            retransmissions += 1;
        }
        let at = t + SimDuration::from_nanos(self.latency.sample(&mut self.rng));
        Transit::Arrives { at, retransmissions }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream;

    fn link(latency: LatencySpec, loss: f64) -> Link {
        Link::new(
            Latency::from_spec(&latency).unwrap(),
            loss,
            RTO_DEFAULT,
            None,
            vec![],
            stream(1, "l"),
        )
    }
    fn ms(x: u64) -> SimDuration {
        SimDuration::from_millis(x)
    }

    #[test]
    fn latency_samples_stay_in_bounds() {
        let mut u = link(
            LatencySpec::Uniform {
                min: ms(10),
                max: ms(20),
            },
            0.0,
        );
        let mut e = link(LatencySpec::Empirical(vec![ms(1), ms(5), ms(9)]), 0.0);
        let mut n = link(
            LatencySpec::Normal {
                mean: ms(1),
                std: ms(5),
            },
            0.0,
        );
        let mut l = link(
            LatencySpec::LogNormal {
                median: ms(10),
                sigma: 0.5,
            },
            0.0,
        );
        let mut x = link(LatencySpec::Exponential { mean: ms(10) }, 0.0);
        let mut sum_l = 0.0;
        let mut sum_x = 0.0;
        for _ in 0..20_000 {
            let v = u.latency.sample(&mut u.rng);
            assert!((ms(10).as_nanos()..=ms(20).as_nanos()).contains(&v));
            let v = e.latency.sample(&mut e.rng);
            assert!([ms(1), ms(5), ms(9)].iter().any(|d| d.as_nanos() == v));
            let _never_negative: u64 = n.latency.sample(&mut n.rng);
            sum_l += l.latency.sample(&mut l.rng) as f64;
            sum_x += x.latency.sample(&mut x.rng) as f64;
        }
        // Means within 3% of the closed forms.
        let mean_l = sum_l / 20_000.0;
        assert!(
            (mean_l / l.latency.mean_ns() - 1.0).abs() < 0.03,
            "{mean_l} vs {}",
            l.latency.mean_ns()
        );
        assert!((sum_x / 20_000.0 / 10e6 - 1.0).abs() < 0.03);
        assert!((l.latency.mean_ns() - 10e6 * (0.125f64).exp()).abs() < 1.0);
    }

    #[test]
    fn loss_becomes_retransmission_delay() {
        let mut l = link(LatencySpec::Constant(ms(10)), 0.5);
        let mut seen = [0u32; 4];
        for _ in 0..4000 {
            match l.transmit(SimTime::ZERO, 100) {
                Transit::Arrives { at, retransmissions } => {
                    // k losses cost 200 + 400 + ... ms (each RTO doubling, capped at 120 s),
                    // then 10 ms of flight.
                    let backoff: u64 = (0..retransmissions).map(|i| (200u64 << i).min(120_000)).sum();
                    assert_eq!(at, SimTime::ZERO + ms(backoff + 10));
                    if (retransmissions as usize) < seen.len() {
                        seen[retransmissions as usize] += 1;
                    }
                }
                Transit::GivenUp { .. } => panic!("p=0.5 should not exhaust 15 retransmissions here"),
            }
        }
        // About half the messages need no retransmission, a quarter one, ...
        assert!((1800..2200).contains(&seen[0]), "{seen:?}");
        assert!((850..1150).contains(&seen[1]), "{seen:?}");
    }

    #[test]
    fn outage_delays_to_first_retransmission_after_repair() {
        let mut l = link(LatencySpec::Constant(ms(5)), 0.0);
        l.down = vec![(SimTime::ZERO, Some(SimTime::ZERO + ms(500)))];
        // Attempts at 0, 200, 600 ms: the third is after the repair at 500 ms.
        assert_eq!(
            l.transmit(SimTime::ZERO, 10),
            Transit::Arrives {
                at: SimTime::ZERO + ms(605),
                retransmissions: 2
            }
        );
        l.down = vec![(SimTime::ZERO, None)];
        assert!(matches!(l.transmit(SimTime::ZERO, 10), Transit::GivenUp { .. }));
    }

    #[test]
    fn bandwidth_serialises_fifo() {
        let mut l = Link::new(
            Latency::Constant(0),
            0.0,
            RTO_DEFAULT,
            Some(8e6),
            vec![],
            stream(1, "l"),
        );
        // 1000 bytes at 8 Mbit/s = 1 ms each; the second waits for the first.
        assert_eq!(
            l.transmit(SimTime::ZERO, 1000),
            Transit::Arrives {
                at: SimTime::ZERO + ms(1),
                retransmissions: 0
            }
        );
        assert_eq!(
            l.transmit(SimTime::ZERO, 1000),
            Transit::Arrives {
                at: SimTime::ZERO + ms(2),
                retransmissions: 0
            }
        );
    }
}
