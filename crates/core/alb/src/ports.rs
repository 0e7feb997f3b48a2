//! The ports of the ALB workflow: what its steps ask of AWS, in the workflow's own types. The
//! adapters (lightsout-elbv2, lightsout-route53, lightsout-snapshots) implement them over the
//! SDK, which stays inside them; `lightsout_alb::fake` (feature `fake`) implements them in memory, so
//! each step's handler is unit-tested without a network.

// The ports are implemented and awaited only inside this workspace, on a current-thread runtime:
// the `Send` bound the lint asks for is not needed.
#![allow(async_fn_in_trait)]

use std::collections::BTreeMap;

use crate::{AlbError, AlbEvent, AlbSnapshot, IpAddressType};

/// What the workflow needs to know about an existing ALB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbInfo {
    /// Its ARN.
    pub arn: String,
    /// Its DNS name (what the alias record points at).
    pub dns_name: String,
    /// The hosted zone of its DNS name (the alias target's zone).
    pub canonical_hosted_zone_id: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
    /// Its subnets (one per Availability Zone).
    pub subnets: Vec<String>,
    /// Its security groups.
    pub security_groups: Vec<String>,
}

/// A load balancer as DescribeLoadBalancers and DescribeTags show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAlb {
    /// Its name.
    pub name: String,
    /// False for a Network or Gateway Load Balancer: never scheduled.
    pub application: bool,
    /// Where it is, its subnets and security groups.
    pub info: AlbInfo,
    /// All its tags.
    pub tags: BTreeMap<String, String>,
}

/// A snapshot found in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Read: the load balancer it was taken of sleeps if there is no live one of its name.
    Read(AlbSnapshot),
    /// Could not be read (not JSON, a newer format, no access): named, never guessed at.
    Unreadable {
        /// The ALB the snapshot's key names.
        alb_name: String,
        /// Why it could not be read.
        error: String,
    },
}

/// What [`Albs::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The ALB now in place.
    pub alb: AlbInfo,
    /// False when an ALB of that name already existed and was reused.
    pub created: bool,
    /// Listeners made now.
    pub listeners_created: usize,
    /// Listener rules made now.
    pub rules_created: usize,
}

/// The kind of an alias record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// IPv4.
    A,
    /// IPv6.
    Aaaa,
}

impl RecordKind {
    /// Both kinds: what may be ours to delete, whatever the ALB's IP address type is now.
    pub const ALL: [RecordKind; 2] = [RecordKind::A, RecordKind::Aaaa];

    /// The alias records an ALB of `ip` gets: A, and AAAA for a dualstack one.
    pub fn for_alb(ip: IpAddressType) -> &'static [RecordKind] {
        match ip {
            IpAddressType::Ipv4 => &[RecordKind::A],
            IpAddressType::Dualstack => &RecordKind::ALL,
        }
    }

    /// `A` or `AAAA`, as Route 53 names it.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
        }
    }
}

/// The ALB a record should point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbTarget<'a> {
    /// The ALB's name (a record pointing at an earlier ALB of that name is ours to repoint).
    pub name: &'a str,
    /// Its DNS name.
    pub dns_name: &'a str,
    /// The hosted zone of its DNS name.
    pub hosted_zone_id: &'a str,
}

/// What the domain's record of one kind is. `R` is the adapter's own record, handed back to
/// [`Records::delete`] exactly as found.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordState<R> {
    /// No such record.
    Missing,
    /// An alias to this very ALB.
    Ours(R),
    /// An alias to an earlier ALB of the same name (recreated since): ours to repoint.
    Stale {
        /// The record.
        record: R,
        /// The DNS name it points at.
        alias: String,
    },
    /// Anything else, described for the event.
    Elsewhere(String),
}

/// The load balancers.
pub trait Albs {
    /// The ALB called `name`, if there is one.
    async fn find(&self, name: &str) -> Result<Option<AlbInfo>, AlbError>;
    /// Makes the ALB the event describes (or restores `snapshot`), reusing whatever of it
    /// already exists.
    async fn create(
        &self,
        event: &AlbEvent,
        snapshot: Option<&AlbSnapshot>,
    ) -> Result<Created, AlbError>;
    /// Everything configured on `alb` (listeners, rules, certificates, attributes, tags), to
    /// restore it exactly.
    async fn snapshot(
        &self,
        alb: &AlbInfo,
        name: &str,
        taken_at: &str,
    ) -> Result<AlbSnapshot, AlbError>;
    /// Deletes the ALB; false when it was already gone.
    async fn delete(&self, arn: &str) -> Result<bool, AlbError>;
    /// Every load balancer of the region, with all its tags (for discovery).
    async fn all(&self) -> Result<Vec<LiveAlb>, AlbError>;
}

/// The domain's alias records.
pub trait Records {
    /// A record as the adapter found it.
    type Record;
    /// What the record of `kind` for `domain` in `zone` is, against `target`.
    async fn state(
        &self,
        zone: &str,
        domain: &str,
        kind: RecordKind,
        target: &AlbTarget<'_>,
    ) -> Result<RecordState<Self::Record>, AlbError>;
    /// Points `domain` at `target` with a record of each of `kinds`, in one change. Fails with
    /// `RecordConflict`, changing nothing, where a record of someone else's is. Returns whether
    /// anything changed.
    async fn upsert(
        &self,
        zone: &str,
        domain: &str,
        kinds: &[RecordKind],
        target: &AlbTarget<'_>,
    ) -> Result<bool, AlbError>;
    /// Deletes `records` (as [`Records::state`] gave them) in one change.
    async fn delete(&self, zone: &str, records: Vec<Self::Record>) -> Result<(), AlbError>;
}

/// The ALB snapshots.
pub trait Snapshots {
    /// The stored snapshot of `alb_name`, if any (an unreadable one is an error, never none).
    async fn load(&self, bucket: &str, alb_name: &str) -> Result<Option<AlbSnapshot>, AlbError>;
    /// Stores `snapshot`; returns its key.
    async fn save(&self, bucket: &str, snapshot: &AlbSnapshot) -> Result<String, AlbError>;
    /// Every snapshot in `bucket`, each read or said why not (for discovery).
    async fn all(&self, bucket: &str) -> Result<Vec<Stored>, AlbError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dualstack_alb_gets_an_aaaa_record_too() {
        assert_eq!(RecordKind::for_alb(IpAddressType::Ipv4), [RecordKind::A]);
        assert_eq!(
            RecordKind::for_alb(IpAddressType::Dualstack),
            [RecordKind::A, RecordKind::Aaaa]
        );
        assert_eq!(RecordKind::Aaaa.name(), "AAAA");
    }
}
