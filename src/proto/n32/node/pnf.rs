//! The producer NF, the home AUSF of the workload's subscribers: answers each
//! `AuthenticationInfo` after its processing time with a `201 UEAuthenticationCtx` (TS 29.509
//! clause 5.2.2.2.2), or `400` for a body that is not one ([`crate::proto::payload`]).

use crate::engine::{SimDuration, SimRng, SimTime};
use crate::net::http::Typed;
use crate::net::{HttpResponse, Latency};
use crate::proto::common::{ApiBody, ProblemDetails};
use crate::proto::effect::{Effect, Effects, Input, Machine};
use crate::proto::payload::{self, AuthenticationInfo, UeAuthenticationCtx};

use super::{SBI_PATH, Timer, problem};

/// A producer NF's machine.
pub struct Pnf {
    /// Its processing time, if any.
    processing: Option<Latency>,
    /// The configured size of an answer's body \[bytes\].
    response_bytes: usize,
    /// Its own stream (processing delays).
    rng: SimRng,
    /// The stream its authentication vectors are drawn from.
    av_rng: SimRng,
    /// Its API root (`https://<fqdn>`), in the links of its answers.
    api_root: String,
    /// Authentication contexts created so far (their IDs).
    contexts: u64,
    fx: Effects<Timer>,
}

impl Pnf {
    /// A pNF at `api_root` with the processing time and answer size of the first flow it
    /// serves, its own stream `rng` and the stream of its vectors `av_rng`.
    pub fn new(
        processing: Option<Latency>,
        response_bytes: usize,
        (rng, av_rng): (SimRng, SimRng),
        api_root: String,
    ) -> Pnf {
        Pnf {
            processing,
            response_bytes,
            rng,
            av_rng,
            api_root,
            contexts: 0,
            fx: Effects::default(),
        }
    }
}

impl Machine for Pnf {
    type Timer = Timer;

    fn handle(&mut self, _now: SimTime, input: Input<Timer>) {
        match input {
            Input::Request { at, req, .. } if req.path == SBI_PATH => {
                if req.decode::<AuthenticationInfo>().is_none() {
                    //= TS 29.509 5.2.2.2.2 / TS 29.500 5.2.7.2: a malformed request body
                    let rsp = problem(400, ProblemDetails::with_cause(400, "MANDATORY_IE_INCORRECT"));
                    self.fx.push(Effect::Respond {
                        at,
                        rsp: Box::new(rsp),
                        delay: SimDuration::ZERO,
                    });
                    return;
                }
                let delay = match &self.processing {
                    Some(l) => SimDuration::from_nanos(l.sample(&mut self.rng)),
                    None => SimDuration::ZERO,
                };
                self.fx.set_timer(delay, Timer::Processed(at));
            }
            Input::Timer(Timer::Processed(at)) => {
                //= TS 33.501 6.1.3.2 step 2: the AUSF keeps XRES* and sends the 5G SE AV
                self.contexts += 1;
                let av = payload::av_5g_aka(&mut self.av_rng);
                let (ctx, text) =
                    payload::ue_authentication_ctx(&self.api_root, self.contexts, av, self.response_bytes);
                let mut rsp = HttpResponse::new(201, UeAuthenticationCtx::SCHEMA, text);
                // The p-SEPP reads the answer as JSON (to protect it): hand it the value.
                rsp.typed = Some(Typed::new(
                    serde_json::to_value(&ctx).expect("UEAuthenticationCtx is JSON"),
                ));
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
