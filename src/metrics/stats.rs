//! Summary statistics: quantiles by the nearest-rank method on sorted samples.

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
}
