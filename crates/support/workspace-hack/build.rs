// A build script, so that cargo takes the [build-dependencies] of this crate into account: they
// unify the features of what build scripts and proc-macros of the workspace compile for the host.
fn main() {}
