//! The discrete-event engine: time, the pending-event queue, seeded RNG streams and the
//! event loop. It knows nothing of networks or 3GPP.
//!
//! - [`time`]: integer-nanosecond [`SimTime`] and [`SimDuration`].
//! - [`queue`]: the pending-event set ([`RadixQueue`], FIFO on equal times).
//! - [`rng`]: one ChaCha8 stream per named component, derived from one `u64` seed.
//! - [`sim`]: [`Sim`], [`World`], [`Ctx`]: the loop, timers, bounds and the trace hash.

pub mod arrival;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod time;

pub use arrival::Arrival;
pub use queue::{BinaryQueue, Entry, EventQueue, RadixQueue};
pub use rng::{SimRng, stream, stream_id};
pub use sim::{
    ActorId, Ctx, EXTERNAL, Event, EventKind, Limits, RunStats, Sim, Stall, StopReason, TimerId, TraceSink, World,
};
pub use time::{DurationError, SimDuration, SimTime};
