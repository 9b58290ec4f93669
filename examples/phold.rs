//! `cargo run --release --example phold -- [--compare] [--lps N] [--init K] ...`: the PHOLD
//! benchmark without the main CLI (same flags as `secsim bench phold`).

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: secsim::bench::phold::PholdArgs,
}

fn main() {
    let cli = Cli::parse();
    match secsim::bench::phold::run(&cli.args) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
