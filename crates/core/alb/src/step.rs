//! What each state of the workflow adds to the event: one typed output per step.
//!
//! Every state returns the whole event it received with its output merged in ([`merge`]), so the
//! next state has everything it needs. The field names are the workflow's contract with the state
//! machine (statemachine/alb-scheduler.asl.json) and with inputs saved from earlier runs: they are
//! written here once, by serde, and nowhere else. Each output also says what it counts in the
//! function's metrics ([`StepOutput::counts`]), so no metric is read back from JSON.

use serde::Serialize;
use serde_json::Value;

use crate::decision::NextStep;

/// The output of one workflow step.
pub trait StepOutput: Serialize {
    /// The step's own metrics (the runner adds `Failures`), as the dashboard names them.
    const METRICS: &'static [&'static str];

    /// How much this output adds to each of [`StepOutput::METRICS`] (only the non-zero ones).
    fn counts(&self) -> Vec<(&'static str, u64)>;
}

/// Merges a step's output into the event it received: each output field is set, every other
/// field of the event is kept as it was. An event that is not a JSON object (which no step
/// accepts: [`crate::AlbEvent::parse`] refuses it) is left unchanged.
pub fn merge(event: &mut Value, output: &impl Serialize) {
    let (Value::Object(event), Ok(Value::Object(fields))) = (event, serde_json::to_value(output))
    else {
        return;
    };
    event.extend(fields);
}

/// CheckExistingALB: does the ALB exist, should it, and does the domain point at it?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checked {
    /// An ALB of the event's name exists.
    pub alb_exists: bool,
    /// Empty when there is no ALB (as the seed's event had it).
    pub alb_arn: String,
    /// Its DNS name; empty when there is no ALB.
    #[serde(rename = "albDNSName")]
    pub alb_dns_name: String,
    /// The hosted zone of its DNS name (the alias target's zone); empty when there is no ALB.
    pub alb_hosted_zone_id: String,
    /// The schedule wants the ALB at the decision time.
    pub should_exist: bool,
    /// Why, in words (see [`crate::should_exist`]).
    pub should_exist_reason: String,
    /// Every record the ALB needs (A, and AAAA when dualstack) is an alias to it.
    pub record_exists: bool,
    /// RFC 3339, seconds, UTC: the instant the decision was made for.
    pub decision_time: String,
    /// What "Determine Action" chooses on.
    pub next_step: NextStep,
}

impl StepOutput for Checked {
    /// It changes nothing, so only its failures.
    const METRICS: &'static [&'static str] = &[];

    fn counts(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// CreateALB: the ALB and its listeners are in place, made afresh, from the snapshot, or reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbInPlace {
    /// Always true: the ALB exists now.
    pub alb_exists: bool,
    /// Its ARN.
    pub alb_arn: String,
    /// Its DNS name: what the alias records point at.
    #[serde(rename = "albDNSName")]
    pub alb_dns_name: String,
    /// The hosted zone of its DNS name.
    pub alb_hosted_zone_id: String,
    /// False when an ALB of that name already existed and was reused.
    pub alb_created: bool,
    /// A snapshot was found and applied (listeners, rules, attributes, tags).
    pub restored_from_snapshot: bool,
    /// The S3 key of the snapshot it was restored from, or null.
    pub snapshot_key: Option<String>,
    /// Listeners made by this run.
    pub listeners_created: usize,
    /// Listener rules made by this run.
    pub rules_created: usize,
}

/// The metric of an ALB made afresh.
pub const ALB_CREATED: &str = "AlbCreated";
/// The metric of an ALB made from its snapshot.
pub const ALB_RESTORED: &str = "AlbRestored";

impl StepOutput for AlbInPlace {
    const METRICS: &'static [&'static str] = &[ALB_CREATED, ALB_RESTORED];

    fn counts(&self) -> Vec<(&'static str, u64)> {
        match (self.alb_created, self.restored_from_snapshot) {
            (false, _) => Vec::new(),
            (true, true) => vec![(ALB_RESTORED, 1)],
            (true, false) => vec![(ALB_CREATED, 1)],
        }
    }
}

/// DeleteALB: the ALB is gone, deleted now (after its snapshot was saved) or already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbGone {
    /// Always false: the ALB does not exist now.
    pub alb_exists: bool,
    /// This run deleted the ALB.
    pub alb_deleted: bool,
    /// There was no ALB to delete: the opposite of `alb_deleted`.
    pub alb_already_gone: bool,
    /// The S3 key of the snapshot saved before the delete, or null.
    pub snapshot_key: Option<String>,
}

impl AlbGone {
    /// It was deleted by this run (`deleted`), or found gone; `snapshot_key` when saved first.
    pub fn new(deleted: bool, snapshot_key: Option<String>) -> AlbGone {
        AlbGone {
            alb_exists: false,
            alb_deleted: deleted,
            alb_already_gone: !deleted,
            snapshot_key,
        }
    }
}

/// The metric of an ALB deleted.
pub const ALB_DELETED: &str = "AlbDeleted";
/// The metric of a snapshot saved before a delete.
pub const SNAPSHOTS_SAVED: &str = "SnapshotsSaved";

impl StepOutput for AlbGone {
    const METRICS: &'static [&'static str] = &[ALB_DELETED, SNAPSHOTS_SAVED];

    fn counts(&self) -> Vec<(&'static str, u64)> {
        let mut counts = Vec::new();
        if self.alb_deleted {
            counts.push((ALB_DELETED, 1));
        }
        if self.snapshot_key.is_some() {
            counts.push((SNAPSHOTS_SAVED, 1));
        }
        counts
    }
}

/// CreateRoute53Record: the domain's alias records point at the ALB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordInPlace {
    /// True, but for an ALB scheduled without a record (no record tags).
    pub record_exists: bool,
    /// False when the records already pointed at the ALB (nothing written).
    pub record_changed: bool,
}

impl RecordInPlace {
    /// `changed`: a record was written (created, or changed to point at the ALB).
    pub fn new(changed: bool) -> RecordInPlace {
        RecordInPlace {
            record_exists: true,
            record_changed: changed,
        }
    }

    /// For an ALB scheduled without a record: nothing to point.
    pub fn no_record() -> RecordInPlace {
        RecordInPlace {
            record_exists: false,
            record_changed: false,
        }
    }
}

/// The metric of an alias record created, or changed to point at the ALB.
pub const RECORD_CREATED: &str = "RecordCreated";

impl StepOutput for RecordInPlace {
    const METRICS: &'static [&'static str] = &[RECORD_CREATED];

    fn counts(&self) -> Vec<(&'static str, u64)> {
        match self.record_changed {
            true => vec![(RECORD_CREATED, 1)],
            false => Vec::new(),
        }
    }
}

/// What DeleteRoute53Record found at the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// The ALB's alias records were deleted.
    Deleted,
    /// There was no record.
    Missing,
    /// The ALB is scheduled without a record (no record tags): none was looked for.
    NotConfigured,
    /// A record points elsewhere (another ALB, an earlier one, or not an alias): not ours to
    /// delete. Each entry says which record and what it is.
    LeftAlone(Vec<String>),
}

impl std::fmt::Display for RecordStatus {
    /// `deleted`, `missing` or `left alone: <what>; <what>`, as the seed's event had it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordStatus::Deleted => f.write_str("deleted"),
            RecordStatus::Missing => f.write_str("missing"),
            RecordStatus::NotConfigured => f.write_str("no record configured"),
            RecordStatus::LeftAlone(what) => write!(f, "left alone: {}", what.join("; ")),
        }
    }
}

impl Serialize for RecordStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// DeleteRoute53Record: no alias record of this ALB is left at the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordGone {
    /// True only when a record of someone else's is still there and none of ours was deleted.
    pub record_exists: bool,
    /// This ALB's alias records were deleted.
    pub record_deleted: bool,
    /// What was found at the domain.
    pub record_status: RecordStatus,
}

impl RecordGone {
    /// `deleted`: this ALB's records were deleted; `elsewhere`: the records left alone.
    pub fn new(deleted: bool, elsewhere: Vec<String>) -> RecordGone {
        let record_status = match (deleted, elsewhere.is_empty()) {
            (_, false) => RecordStatus::LeftAlone(elsewhere),
            (true, true) => RecordStatus::Deleted,
            (false, true) => RecordStatus::Missing,
        };
        RecordGone {
            record_exists: matches!(record_status, RecordStatus::LeftAlone(_)) && !deleted,
            record_deleted: deleted,
            record_status,
        }
    }
}

impl RecordGone {
    /// For an ALB scheduled without a record: nothing to delete.
    pub fn no_record() -> RecordGone {
        RecordGone {
            record_exists: false,
            record_deleted: false,
            record_status: RecordStatus::NotConfigured,
        }
    }
}

/// The metric of the ALB's alias record deleted.
pub const RECORD_DELETED: &str = "RecordDeleted";
/// The metric of a record at the domain left alone because it points elsewhere.
pub const RECORD_LEFT_ALONE: &str = "RecordLeftAlone";

impl StepOutput for RecordGone {
    const METRICS: &'static [&'static str] = &[RECORD_DELETED, RECORD_LEFT_ALONE];

    fn counts(&self) -> Vec<(&'static str, u64)> {
        let mut counts = Vec::new();
        if self.record_deleted {
            counts.push((RECORD_DELETED, 1));
        }
        if matches!(self.record_status, RecordStatus::LeftAlone(_)) {
            counts.push((RECORD_LEFT_ALONE, 1));
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(output: &impl Serialize) -> Value {
        serde_json::to_value(output).unwrap()
    }

    #[test]
    fn merge_sets_the_output_and_keeps_the_rest() {
        let mut event = json!({"albName": "dev-alb", "recordExists": false, "extra": [1]});
        merge(&mut event, &RecordInPlace::new(true));
        assert_eq!(
            event,
            json!({"albName": "dev-alb", "recordExists": true, "recordChanged": true, "extra": [1]})
        );
        let mut not_an_object = json!([1, 2]);
        merge(&mut not_an_object, &RecordInPlace::new(true));
        assert_eq!(not_an_object, json!([1, 2]));
    }

    #[test]
    fn the_field_names_are_the_contract() {
        let checked = Checked {
            alb_exists: true,
            alb_arn: "arn".into(),
            alb_dns_name: "dns".into(),
            alb_hosted_zone_id: "Z1".into(),
            should_exist: false,
            should_exist_reason: "outside schedule".into(),
            record_exists: true,
            decision_time: "2026-11-25T10:00:00Z".into(),
            next_step: NextStep::Delete,
        };
        assert_eq!(
            fields(&checked),
            json!({"albExists": true, "albArn": "arn", "albDNSName": "dns", "albHostedZoneId": "Z1",
                   "shouldExist": false, "shouldExistReason": "outside schedule", "recordExists": true,
                   "decisionTime": "2026-11-25T10:00:00Z", "nextStep": "Delete"})
        );
        let created = AlbInPlace {
            alb_exists: true,
            alb_arn: "arn".into(),
            alb_dns_name: "dns".into(),
            alb_hosted_zone_id: "Z1".into(),
            alb_created: true,
            restored_from_snapshot: false,
            snapshot_key: None,
            listeners_created: 2,
            rules_created: 0,
        };
        assert_eq!(
            fields(&created),
            json!({"albExists": true, "albArn": "arn", "albDNSName": "dns", "albHostedZoneId": "Z1",
                   "albCreated": true, "restoredFromSnapshot": false, "snapshotKey": null,
                   "listenersCreated": 2, "rulesCreated": 0})
        );
        assert_eq!(
            fields(&AlbGone::new(true, Some("k".into()))),
            json!({"albExists": false, "albDeleted": true, "albAlreadyGone": false, "snapshotKey": "k"})
        );
        assert_eq!(
            fields(&RecordInPlace::new(false)),
            json!({"recordExists": true, "recordChanged": false})
        );
        assert_eq!(
            fields(&RecordGone::new(true, vec![])),
            json!({"recordExists": false, "recordDeleted": true, "recordStatus": "deleted"})
        );
    }

    #[test]
    fn next_steps_are_named_as_the_state_machine_chooses_on_them() {
        for (step, name) in [
            (NextStep::Delete, "Delete"),
            (NextStep::Create, "Create"),
            (NextStep::RepairRecord, "RepairRecord"),
            (NextStep::Nothing, "Nothing"),
        ] {
            assert_eq!(fields(&step), json!(name));
            assert_eq!(step.name(), name);
        }
    }

    #[test]
    fn record_status_says_what_was_found() {
        let gone = |deleted, elsewhere: &[&str]| {
            RecordGone::new(deleted, elsewhere.iter().map(|s| s.to_string()).collect())
        };
        assert_eq!(fields(&gone(false, &[]).record_status), json!("missing"));
        assert!(!gone(false, &[]).record_exists);
        let left = gone(
            false,
            &["A is an alias to an earlier ALB (old)", "AAAA is a CNAME"],
        );
        assert_eq!(
            fields(&left.record_status),
            json!("left alone: A is an alias to an earlier ALB (old); AAAA is a CNAME")
        );
        assert!(left.record_exists, "someone else's record is still there");
        // Ours (A) deleted, someone else's (AAAA) left: none of ours is left.
        let both = gone(true, &["AAAA is a CNAME"]);
        assert!(!both.record_exists && both.record_deleted);
        assert_eq!(
            fields(&both.record_status),
            json!("left alone: AAAA is a CNAME")
        );
    }

    #[test]
    fn each_output_counts_what_it_did() {
        let made = |created, restored| AlbInPlace {
            alb_exists: true,
            alb_arn: String::new(),
            alb_dns_name: String::new(),
            alb_hosted_zone_id: String::new(),
            alb_created: created,
            restored_from_snapshot: restored,
            snapshot_key: None,
            listeners_created: 0,
            rules_created: 0,
        };
        assert_eq!(made(true, false).counts(), [(ALB_CREATED, 1)]);
        assert_eq!(made(true, true).counts(), [(ALB_RESTORED, 1)]);
        // The ALB was already there: nothing made, whatever the snapshot.
        assert_eq!(made(false, true).counts(), []);
        assert_eq!(made(false, false).counts(), []);

        assert_eq!(
            AlbGone::new(true, Some("k".into())).counts(),
            [(ALB_DELETED, 1), (SNAPSHOTS_SAVED, 1)]
        );
        assert_eq!(AlbGone::new(true, None).counts(), [(ALB_DELETED, 1)]);
        // Already gone: nothing deleted, nothing saved.
        assert_eq!(AlbGone::new(false, None).counts(), []);

        assert_eq!(RecordInPlace::new(true).counts(), [(RECORD_CREATED, 1)]);
        // Already pointing at the ALB: nothing written.
        assert_eq!(RecordInPlace::new(false).counts(), []);

        assert_eq!(
            RecordGone::new(true, vec![]).counts(),
            [(RECORD_DELETED, 1)]
        );
        assert_eq!(RecordGone::new(false, vec![]).counts(), []);
        assert_eq!(
            RecordGone::new(false, vec!["A is a CNAME".into()]).counts(),
            [(RECORD_LEFT_ALONE, 1)]
        );
    }

    #[test]
    fn every_count_is_a_declared_metric() {
        fn declared<O: StepOutput>(outputs: &[O]) {
            for output in outputs {
                for (name, _) in output.counts() {
                    assert!(O::METRICS.contains(&name), "{name}");
                }
            }
        }
        declared(&[AlbGone::new(true, Some("k".into()))]);
        declared(&[RecordInPlace::new(true)]);
        declared(&[RecordGone::new(true, vec!["x".into()])]);
    }
}
