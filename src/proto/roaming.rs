//! (interim stub: replaced by the Roaming Intermediary module)

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RiPolicy {}

#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum DirectTlsReaction {
    #[default]
    DropTimeout,
    TcpReset,
    TlsAlertOnSni,
    RequireConnect,
    OutOfBand,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum SuggestionEncoding {
    #[default]
    ProblemDetailsMsgForwarding,
    FlatFields,
    ProtectedHeader,
    ProxyStatus,
}

#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum CseppMapping {
    #[default]
    UseSuggestion,
    OwnAnswer {
        status: u16,
        cause: String,
    },
    UseSuggestionIfVerified,
}
