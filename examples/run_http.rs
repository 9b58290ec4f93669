fn main() {
    let opts = secsim::run::RunOptions {
        out: Some("/tmp/out-http".into()),
        trace: true,
        ..Default::default()
    };
    match secsim::run::run_experiment(std::path::Path::new("experiments/http-baseline.ron"), &opts) {
        Ok(s) => println!("{:?} {} seeds", s.dir, s.seeds.len()),
        Err(e) => println!("error: {e}"),
    }
}
