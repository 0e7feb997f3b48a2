//! The ALB working-hours workflow's pure logic: the event every state receives and returns, its
//! validation, whether the ALB should exist, the snapshot format, and the error types the state
//! machine tells apart; the ports its steps call AWS through ([`ports`]) and, for tests, an
//! in-memory account behind them (`fake`, feature `fake`). No AWS dependency.

#![warn(missing_docs)]

pub mod decision;
pub mod discovery;
pub mod error;
pub mod event;
#[cfg(feature = "fake")]
pub mod fake;
pub mod ports;
pub mod snapshot;
pub mod step;

pub use decision::{next_step, should_exist, NextStep};
pub use error::{AlbError, ErrorKind};
pub use event::{
    set, AlbEvent, AliasRecord, IpAddressType, Protocol, Scheme, TargetGroupSpec, TimeSource,
};
pub use snapshot::AlbSnapshot;
pub use step::{merge, StepOutput};
