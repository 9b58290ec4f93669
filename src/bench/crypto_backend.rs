//! `secsim bench n32 --compare-crypto-backends`: N32 at `Full` crypto fidelity with each
//! ECDSA P-256 backend ([`crate::crypto::backend`]) in turns in one process, and
//! the ratio of handshakes per wall second of the run loop (the world's build, which makes the
//! keys and certificates, is timed apart and printed). Each figure is the median of `repeat`
//! rounds; rounds alternate the backends so that a busy machine slows both alike. The two
//! backends must give the same run (events, handshakes, requests), which is checked.
//!
//! ```text
//! bench=n32-backend backend=fast handshakes=1350 events=90247 build_s=0.056 run_s=1.112 handshakes_per_s=1214
//! bench=n32-backend backend=rustcrypto handshakes=1350 events=90247 build_s=0.097 run_s=3.123 handshakes_per_s=432
//! bench=n32-backend fast_over_rustcrypto=2.81
//! ```

use crate::crypto::backend::{P256Backend, p256_backend, set_p256_backend};
use crate::crypto::cost::CryptoFidelity;
use crate::scenario::Scenario;

use super::n32::measure;
use super::phold::PlaneRun;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the comparison on `scn` (its fidelity is set to `Full`); returns the printed lines.
pub fn compare(scn: &Scenario, seed: u64, repeat: u32) -> Result<String, String> {
    let mut scn = scn.clone();
    scn.experiment.crypto.fidelity = CryptoFidelity::Full;
    let before = p256_backend();
    let mut rounds: Vec<Vec<PlaneRun>> = P256Backend::ALL.iter().map(|_| Vec::new()).collect();
    let result = (|| {
        for _ in 0..repeat.max(1) {
            for (i, b) in P256Backend::ALL.iter().enumerate() {
                set_p256_backend(*b);
                rounds[i].push(measure(&scn, seed)?);
            }
        }
        Ok::<(), String>(())
    })();
    set_p256_backend(before);
    result?;
    let first = &rounds[0][0];
    for (i, runs) in rounds.iter().enumerate() {
        for r in runs {
            if r.events != first.events || r.detail != first.detail {
                return Err(format!(
                    "bench n32: the {} backend gave another run ({} events, {}) than {} ({} events, {})",
                    P256Backend::ALL[i].name(),
                    r.events,
                    r.detail,
                    P256Backend::ALL[0].name(),
                    first.events,
                    first.detail
                ));
            }
        }
    }
    let handshakes: f64 = first
        .detail
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("handshakes="))
        .and_then(|v| v.parse().ok())
        .ok_or("bench n32: no handshake count in the run's detail")?;
    let mut out = String::new();
    let mut rate = Vec::new();
    for (i, runs) in rounds.iter().enumerate() {
        let run_s = median(runs.iter().map(|r| r.run_s).collect());
        let build_s = median(runs.iter().map(|r| r.build_s).collect());
        rate.push(handshakes / run_s);
        out.push_str(&format!(
            "bench=n32-backend backend={} handshakes={handshakes} events={} build_s={build_s:.3} run_s={run_s:.3} \
             handshakes_per_s={:.0}\n",
            P256Backend::ALL[i].name(),
            first.events,
            handshakes / run_s
        ));
    }
    out.push_str(&format!(
        "bench=n32-backend {}_over_{}={:.2}\n",
        P256Backend::ALL[0].name(),
        P256Backend::ALL[1].name(),
        rate[0] / rate[1]
    ));
    Ok(out)
}
