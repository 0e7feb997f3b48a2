//! The EC2 operations the handler uses, as a trait (the port), so that the orchestration is tested
//! with a fake; lightsout-ec2's [`lightsout_ec2::Ec2`] is the real one.

use lightsout_ec2::Selector;
use lightsout_schedule::Instance;

use crate::batch::CallError;

/// What the handler asks of EC2 in one region.
pub trait Ec2 {
    /// The region, as the report names it.
    fn region(&self) -> &str;
    /// Every instance tagged `AUTOSTOP_ENABLE=true` (any case) that is pending, running, stopping
    /// or stopped, across every page.
    async fn managed_instances(&self) -> Result<Vec<Instance>, CallError>;
    /// With `dry_run`, AWS checks permissions and answers `DryRunOperation`: counted as success.
    async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), CallError>;
    /// Stops (or hibernates) `ids`; `dry_run` as for [`Ec2::start`].
    async fn stop(&self, ids: Vec<String>, hibernate: bool, dry_run: bool)
        -> Result<(), CallError>;
    /// Sets the tag `key` to `value` on every instance of `ids` (one CreateTags call).
    async fn tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), CallError>;
}

impl Ec2 for lightsout_ec2::Ec2 {
    fn region(&self) -> &str {
        lightsout_ec2::Ec2::region(self)
    }

    async fn managed_instances(&self) -> Result<Vec<Instance>, CallError> {
        Ok(self.instances(&Selector::Managed).await?)
    }

    async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), CallError> {
        Ok(lightsout_ec2::Ec2::start(self, ids, dry_run).await?)
    }

    async fn stop(
        &self,
        ids: Vec<String>,
        hibernate: bool,
        dry_run: bool,
    ) -> Result<(), CallError> {
        Ok(lightsout_ec2::Ec2::stop(self, ids, hibernate, dry_run).await?)
    }

    async fn tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), CallError> {
        Ok(self.set_tag(ids, key, value).await?)
    }
}
