//! (temporary stub, replaced by the PHOLD model)
#[derive(clap::Args, Debug, Clone)]
pub struct PholdArgs {}
pub fn run(_: &PholdArgs) -> Result<String, String> {
    Err("not yet".into())
}
