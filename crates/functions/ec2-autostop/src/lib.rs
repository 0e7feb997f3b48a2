//! `ec2-autostop` as a library: the invocation handler over an EC2 port, its batching and its
//! report. The binary (`main.rs`) serves it; the per-instance decision it acts on is
//! `lightsout_schedule::assess`, which `lightsout plan` shows.

#![warn(missing_docs)]

pub mod batch;
pub mod handler;
pub mod report;
