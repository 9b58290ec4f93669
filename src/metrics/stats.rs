//! Summary statistics: quantiles by the nearest-rank method on sorted samples, 95% confidence
//! intervals (Student t across seeds, Wilson for rates) and a log-bucket histogram for
//! quantiles of large runs without keeping every sample.

/// Count, mean, quantiles, min and max of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
}

/// The nearest-rank `q` quantile of sorted `v` (q in [0, 1]).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises `v` (sorted in place; NaNs sort last).
pub fn summarize(v: &mut [f64]) -> Summary {
    if v.is_empty() {
        return Summary {
            mean: f64::NAN,
            p50: f64::NAN,
            p90: f64::NAN,
            p99: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            count: 0,
        };
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Summary {
        count: v.len(),
        mean: v.iter().sum::<f64>() / v.len() as f64,
        p50: quantile(v, 0.5),
        p90: quantile(v, 0.9),
        p99: quantile(v, 0.99),
        min: v[0],
        max: v[v.len() - 1],
    }
}

/// Two-sided 95% Student t quantile t(0.975, df), df >= 1 (table to 30, then the normal
/// limit with a 1/df correction, within 0.1% of the exact value).
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.959_964 + 2.37 / df as f64,
    }
}

/// Mean and 95% confidence interval (Student t) of independent samples, e.g. one mean per
/// seed. Fewer than two samples: the interval is NaN.
pub fn mean_ci95(samples: &[f64]) -> (f64, f64, f64) {
    let n = samples.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN, f64::NAN);
    }
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    (mean, mean - half, mean + half)
}

/// Wilson score 95% interval of a proportion `k / n`; `(NaN, NaN, NaN)` when `n` is 0.
pub fn wilson95(k: u64, n: u64) -> (f64, f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let z = 1.959_964f64;
    let (nf, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
    (p, (centre - half).max(0.0), (centre + half).min(1.0))
}

/// A histogram with logarithmic buckets (relative width 1%) over positive values: quantiles
/// of any number of samples in bounded memory (at most a few thousand buckets), accurate to
/// 1% of the value. Values <= 0 go to a zero bucket.
#[derive(Clone, Debug, Default)]
pub struct LogHistogram {
    buckets: std::collections::BTreeMap<i32, u64>,
    zeros: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

const LOG_BASE: f64 = 1.01;

impl LogHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        LogHistogram {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    /// Adds one sample (NaN is ignored).
    pub fn add(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.count += 1;
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if x <= 0.0 {
            self.zeros += 1;
        } else {
            let b = (x.ln() / LOG_BASE.ln()).floor() as i32;
            *self.buckets.entry(b).or_default() += 1;
        }
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Buckets in use.
    pub fn buckets(&self) -> usize {
        self.buckets.len() + usize::from(self.zeros > 0)
    }

    /// Mean (exact).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }

    /// The nearest-rank `q` quantile, as the geometric middle of its bucket clamped to
    /// [min, max].
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank <= self.zeros {
            return self.min.min(0.0);
        }
        let mut seen = self.zeros;
        for (&b, &n) in &self.buckets {
            seen += n;
            if seen >= rank {
                let mid = LOG_BASE.powf(b as f64 + 0.5);
                return mid.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Count, mean, p50/p90/p99, min, max.
    pub fn summary(&self) -> Summary {
        if self.count == 0 {
            let mut e: [f64; 0] = [];
            return summarize(&mut e);
        }
        Summary {
            count: self.count as usize,
            mean: self.mean(),
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p99: self.quantile(0.99),
            min: self.min,
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = summarize(&mut v);
        assert_eq!(
            (s.count, s.p50, s.p90, s.p99, s.min, s.max),
            (100, 50.0, 90.0, 99.0, 1.0, 100.0)
        );
        assert_eq!(s.mean, 50.5);
    }

    #[test]
    fn t_intervals_and_wilson() {
        assert_eq!(t975(1), 12.706);
        assert!((t975(120) - 1.98).abs() < 0.001);
        let (m, lo, hi) = mean_ci95(&[10.0, 12.0, 14.0]);
        // sd 2, se 2/sqrt(3), t(2) = 4.303
        assert!((m - 12.0).abs() < 1e-12);
        assert!((hi - m - 4.303 * 2.0 / 3f64.sqrt()).abs() < 1e-9);
        assert!((m - lo - (hi - m)).abs() < 1e-9);
        assert!(mean_ci95(&[1.0]).1.is_nan());
        // Wilson: 0 of 10 -> [0, 0.2775]; 5 of 10 -> [0.2366, 0.7634]
        let (_, lo, hi) = wilson95(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-3, "{hi}");
        let (p, lo, hi) = wilson95(5, 10);
        assert!(p == 0.5 && (lo - 0.2366).abs() < 1e-3 && (hi - 0.7634).abs() < 1e-3);
    }

    #[test]
    fn log_histogram_quantiles_within_one_percent_in_bounded_memory() {
        let mut h = LogHistogram::new();
        let mut v = Vec::new();
        for i in 1..=200_000u64 {
            let x = (i % 9973) as f64 * 0.37 + 0.05;
            h.add(x);
            v.push(x);
        }
        let exact = summarize(&mut v);
        let s = h.summary();
        for (a, b) in [(s.p50, exact.p50), (s.p90, exact.p90), (s.p99, exact.p99)] {
            assert!((a - b).abs() <= 0.011 * b, "{a} vs {b}");
        }
        assert_eq!((s.min, s.max, s.count), (exact.min, exact.max, exact.count));
        assert!(h.buckets() < 2000, "{}", h.buckets());
    }
}
