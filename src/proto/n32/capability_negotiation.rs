//! (interim stub)
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum Preference {
    #[default]
    ResponderOrder,
    InitiatorOrder,
}
