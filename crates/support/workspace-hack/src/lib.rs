//! No code: this crate exists for its `Cargo.toml`, which cargo-hakari generates
//! (`cargo hakari generate`, configured in `.config/hakari.toml`). It enables, for every crate
//! that depends on it, the union of the features the workspace's members enable on their shared
//! dependencies, so a `sam build` of one function at a time compiles each of those (the AWS SDK
//! among them) once per architecture instead of once per function. `tests/test_build.py` fails
//! when it is out of date.
#![deny(missing_docs)]
