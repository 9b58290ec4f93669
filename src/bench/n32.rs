//! `secsim bench n32`: N32 handshakes per wall-clock second on a scenario (by default the
//! 50-PLMN IPX hub, where every SEPP pair re-negotiates every second), at a chosen crypto
//! fidelity. Prints one line per fidelity:
//!
//! ```text
//! bench=n32 experiment=n32-ipx-hub fidelity=Full handshakes=1462 wall_s=4.1 handshakes_per_s=356 events_per_s=...
//! ```

use std::path::PathBuf;
use std::time::Instant;

use crate::crypto::cost::CryptoFidelity;
use crate::metrics::Outcome;
use crate::run::run_seed;
use crate::scenario::load_experiment;

/// Flags of `secsim bench n32`.
#[derive(clap::Args, Clone, Debug)]
pub struct N32BenchArgs {
    /// The experiment to run (its first seed).
    #[arg(long, default_value = "experiments/n32-ipx-hub.ron")]
    pub experiment: PathBuf,
    /// Crypto fidelities to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "full,timing")]
    pub fidelity: Vec<String>,
}

/// Runs the benchmark; returns the printed lines.
pub fn run(args: &N32BenchArgs) -> Result<String, String> {
    let mut scn = load_experiment(&args.experiment).map_err(|e| e.to_string())?;
    let seed = scn
        .experiment
        .seeds
        .as_ref()
        .and_then(|s| s.first().copied())
        .unwrap_or(1);
    let mut out = String::new();
    for f in &args.fidelity {
        let fidelity = match f.to_ascii_lowercase().as_str() {
            "full" => CryptoFidelity::Full,
            "keys" => CryptoFidelity::Keys,
            "timing" => CryptoFidelity::Timing,
            other => return Err(format!("--fidelity: unknown fidelity `{other}` (full, keys, timing)")),
        };
        scn.experiment.crypto.fidelity = fidelity;
        let started = Instant::now();
        let r = run_seed(&scn, seed, None, &|_| {}).map_err(|e| e.to_string())?;
        let wall = started.elapsed().as_secs_f64();
        let handshakes = r
            .records
            .iter()
            .filter(|x| x.procedure == "n32_handshake" && x.outcome == Outcome::Ok)
            .count();
        let requests = r.records.iter().filter(|x| x.procedure == "cnf_request").count();
        out.push_str(&format!(
            "bench=n32 experiment={} fidelity={fidelity:?} handshakes={handshakes} requests={requests} events={} \
             wall_s={wall:.3} handshakes_per_s={:.0} events_per_s={:.0}\n",
            scn.experiment.name,
            r.events,
            handshakes as f64 / wall,
            r.events as f64 / wall,
        ));
    }
    Ok(out)
}
