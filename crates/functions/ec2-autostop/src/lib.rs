//! `ec2-autostop` as a library: the invocation handler over an EC2 port, its batching and its
//! report. The binary (`main.rs`) serves it; the per-instance decision it acts on is
//! `lightsout_schedule::assess`, which `lightsout plan` shows.

#![warn(missing_docs)]

pub mod batch;
// The trait is implemented and used only inside this workspace, with concrete types on a
// current-thread runtime: the `Send` bound the lint asks for is not needed.
#[allow(async_fn_in_trait)]
pub mod ec2;
pub mod handler;
pub mod report;
