//! The producer NF: answers each SBI request after its processing time.

use serde_json::json;

use crate::engine::{SimDuration, SimRng, SimTime};
use crate::net::http::Typed;
use crate::net::{HttpResponse, Latency};
use crate::proto::effect::{Effect, Effects, Input, Machine};

use super::{SBI_PATH, Timer};
use crate::proto::n32::prins;

/// A producer NF's machine.
pub struct Pnf {
    /// Its processing time, if any.
    processing: Option<Latency>,
    /// Padding that brings the answer to its configured size.
    response_pad: usize,
    rng: SimRng,
    fx: Effects<Timer>,
}

impl Pnf {
    /// A pNF with the processing time and answer padding of the first flow it serves, and
    /// its own random stream.
    pub fn new(processing: Option<Latency>, response_pad: usize, rng: SimRng) -> Pnf {
        Pnf {
            processing,
            response_pad,
            rng,
            fx: Effects::default(),
        }
    }
}

impl Machine for Pnf {
    type Timer = Timer;

    fn handle(&mut self, _now: SimTime, input: Input<Timer>) {
        match input {
            Input::Request { at, req, .. } if req.path == SBI_PATH => {
                let delay = match &self.processing {
                    Some(l) => SimDuration::from_nanos(l.sample(&mut self.rng)),
                    None => SimDuration::ZERO,
                };
                self.fx.set_timer(delay, Timer::Processed(at));
            }
            Input::Timer(Timer::Processed(at)) => {
                let body = json!({"authType": "5G_AKA", "pad": "x".repeat(self.response_pad)});
                // `HttpResponse::json`, the text written into a buffer sized for it.
                let text = prins::json_text(&body, self.response_pad + 64);
                let mut rsp = HttpResponse::new(201, "UEAuthenticationCtx", text);
                rsp.typed = Some(Typed::new(body));
                self.fx.push(Effect::Respond {
                    at,
                    rsp: Box::new(rsp),
                    delay: SimDuration::ZERO,
                });
            }
            Input::ConnectRequest { conn, .. } => self.fx.push(Effect::AcceptTunnel(conn)),
            _ => {}
        }
    }

    fn effects(&mut self) -> &mut Effects<Timer> {
        &mut self.fx
    }
}
