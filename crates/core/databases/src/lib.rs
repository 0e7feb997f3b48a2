//! RDS DB instances and Aurora DB clusters as the scheduler sees them, and what it decides for
//! each, from their tags and what RDS says of them alone: the same tags and the same decision as
//! an instance's (`lightsout_schedule::plan`), plus what RDS does differently.
//!
//! - Only `available` databases are stopped and only `stopped` ones started; any other status
//!   (`starting`, `backing-up`, `modifying`, ...) is left to settle.
//! - An Aurora cluster is started and stopped as a cluster: its member instances are never acted
//!   on one by one, and a member's own schedule tags are ignored, with the reason.
//! - What RDS cannot stop is skipped with the documented reason: read replicas and the sources of
//!   read replicas, Aurora Serverless v1, RDS Custom, the secondary clusters of a global database (RDS user
//!   guide, "Stopping an Amazon RDS DB instance temporarily"; Aurora user guide, "Stopping and
//!   starting an Amazon Aurora DB cluster").
//! - RDS starts a database stopped for seven days by itself: found `available` outside its window
//!   while its `lightsout:last-action` says the schedule stopped it at least seven days ago, it
//!   is stopped again and reported as restarted by RDS.
//!
//! No AWS dependency: the RDS adapter lists what is here, the function acts on the decision.

#![warn(missing_docs)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use lightsout_schedule::policy::TAG_HIBERNATE;
use lightsout_schedule::{
    classify, plan, Action, Classification, Done, InstanceState, LastAction, Plan, Settings,
    TAG_LAST_ACTION,
};

/// After how long RDS starts a stopped database by itself.
pub const RDS_RESTARTS_AFTER: Duration = Duration::days(7);

/// Which kind of RDS resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A DB instance (DescribeDBInstances): RDS, or an Aurora cluster's member.
    #[default]
    Instance,
    /// An Aurora DB cluster (DescribeDBClusters).
    Cluster,
}

impl Kind {
    /// `DB instance` or `DB cluster`, for reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "DB instance",
            Kind::Cluster => "DB cluster",
        }
    }
}

/// One database as the RDS adapter lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Database {
    /// Instance or cluster.
    pub kind: Kind,
    /// `DBInstanceIdentifier` or `DBClusterIdentifier`.
    pub id: String,
    /// RDS's status: `available`, `stopped`, `starting`, ...
    pub status: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its engine (`postgres`, `aurora-mysql`, ...), for reasons.
    pub engine: String,
    /// A cluster's `EngineMode` (`provisioned`, `serverless` for Serverless v1, ...).
    pub engine_mode: Option<String>,
    /// An instance's Aurora cluster (`DBClusterIdentifier`): a member is not acted on by itself.
    pub member_of: Option<String>,
    /// The source it replicates (`ReadReplicaSourceDBInstanceIdentifier`, or a cluster's
    /// `ReplicationSourceIdentifier`): a read replica.
    pub replica_of: Option<String>,
    /// Its read replicas (`ReadReplicaDBInstanceIdentifiers`, a cluster's `ReadReplicaIdentifiers`).
    pub replicas: Vec<String>,
    /// A cluster that is a secondary of a global database (not its writer).
    pub global_secondary: bool,
}

impl Database {
    /// Its state as the decision reads it: `available` is running, `stopped` stopped, and every
    /// other status in transition (left to settle).
    pub fn state(&self) -> InstanceState {
        match self.status.as_str() {
            "available" => InstanceState::Running,
            "stopped" => InstanceState::Stopped,
            _ => InstanceState::Pending,
        }
    }
}

/// What the function does with one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// `AUTOSTOP_ENABLE` is not `true`: never touched, not reported.
    Unmanaged,
    /// Managed but left alone, with the reason the report gives; `bad_tags` when a tag cannot be
    /// read (as opposed to what RDS cannot do).
    Skipped {
        /// Why, as the report says it.
        reason: String,
        /// A tag cannot be read.
        bad_tags: bool,
    },
    /// The decision. `restarted_by_rds`: it was found running after the schedule stopped it seven
    /// or more days ago, so RDS started it; the stop says so.
    Decided {
        /// Wanted state, action and reason.
        plan: Plan,
        /// The database's zone.
        zone: Tz,
        /// RDS restarted it after seven days stopped.
        restarted_by_rds: bool,
    },
}

/// Why RDS cannot stop `db`, if it cannot.
fn unstoppable(db: &Database) -> Option<String> {
    let kind = db.kind.as_str();
    if let Some(source) = &db.replica_of {
        return Some(format!(
            "a read replica (of {source}): RDS cannot stop a read replica"
        ));
    }
    if !db.replicas.is_empty() {
        return Some(format!(
            "the source of read replicas ({}): RDS cannot stop a {kind} that has read replicas",
            db.replicas.join(", ")
        ));
    }
    if db.engine_mode.as_deref() == Some("serverless") {
        return Some(
            "Aurora Serverless v1 (EngineMode serverless): RDS cannot stop it (it scales to zero \
             by itself)"
                .into(),
        );
    }
    if db.engine.starts_with("custom-") {
        return Some(format!(
            "RDS Custom ({}): StopDBInstance does not apply to it (RDS API reference)",
            db.engine
        ));
    }
    if db.global_secondary {
        return Some(
            "a secondary cluster of a global database: RDS cannot stop it (stop the global \
             database's writer region instead)"
                .into(),
        );
    }
    None
}

/// Decides for one database at `now`.
pub fn assess(db: &Database, settings: &Settings, now: DateTime<Utc>) -> Assessment {
    let policy = match classify(&db.tags, settings.default_zone) {
        Classification::Unmanaged => return Assessment::Unmanaged,
        Classification::Invalid(error) => {
            return Assessment::Skipped {
                reason: error.to_string(),
                bad_tags: true,
            }
        }
        Classification::AutoScaling(group) => {
            return Assessment::Skipped {
                reason: format!(
                    "tagged as a member of Auto Scaling group {group}: a database is not one"
                ),
                bad_tags: true,
            }
        }
        Classification::Managed(policy) => policy,
    };
    if let Some(cluster) = &db.member_of {
        return Assessment::Skipped {
            reason: format!(
                "a member of Aurora cluster {cluster}: its cluster is started and stopped as one \
                 (tag the cluster); this instance's own tags are ignored"
            ),
            bad_tags: false,
        };
    }
    if db.tags.contains_key(TAG_HIBERNATE) {
        return Assessment::Skipped {
            reason: format!("{TAG_HIBERNATE} is for EC2 instances: a database cannot hibernate"),
            bad_tags: true,
        };
    }
    if let Some(reason) = unstoppable(db) {
        return Assessment::Skipped {
            reason,
            bad_tags: false,
        };
    }
    let mut decided = plan(&policy, db.state(), now, &settings.holidays);
    if db.state() == InstanceState::Pending {
        decided.action = Action::Leave;
        decided.reason = format!(
            "{}; status {}: left to settle",
            decided
                .reason
                .trim_end_matches("; in transition, left to settle"),
            db.status
        );
    }
    let restarted_by_rds = decided.action == Action::Stop && stopped_by_schedule_long_ago(db, now);
    if restarted_by_rds {
        decided.reason = format!(
            "{}; restarted by RDS (stopped by the schedule seven or more days ago, RDS starts a \
             stopped database after seven days)",
            decided.reason
        );
    }
    Assessment::Decided {
        plan: decided,
        zone: policy.schedule.zone,
        restarted_by_rds,
    }
}

/// The last action is the schedule's stop, at least [`RDS_RESTARTS_AFTER`] before `now`.
fn stopped_by_schedule_long_ago(db: &Database, now: DateTime<Utc>) -> bool {
    let Some(Ok(last)) = db.tags.get(TAG_LAST_ACTION).map(|v| LastAction::parse(v)) else {
        return false;
    };
    last.done == Done::Stopped
        && last.cause == lightsout_schedule::Cause::Schedule
        && now - last.at.with_timezone(&Utc) >= RDS_RESTARTS_AFTER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from_lookup(|_| None).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const EVENING: &str = "2026-11-25T20:00:00+09:00";
    const MORNING: &str = "2026-11-25T10:00:00+09:00";

    fn db(id: &str, status: &str, tags: &[(&str, &str)]) -> Database {
        let mut tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tags.entry("AUTOSTOP_ENABLE".into())
            .or_insert_with(|| "true".into());
        Database {
            id: id.into(),
            status: status.into(),
            tags,
            engine: "postgres".into(),
            ..Database::default()
        }
    }

    fn decided(a: &Assessment) -> (Action, String, bool) {
        match a {
            Assessment::Decided {
                plan,
                restarted_by_rds,
                ..
            } => (plan.action, plan.reason.clone(), *restarted_by_rds),
            other => panic!("not decided: {other:?}"),
        }
    }

    fn skipped(a: &Assessment) -> (String, bool) {
        match a {
            Assessment::Skipped { reason, bad_tags } => (reason.clone(), *bad_tags),
            other => panic!("not skipped: {other:?}"),
        }
    }

    #[test]
    fn only_available_databases_are_stopped_and_only_stopped_ones_started() {
        let s = settings();
        let hours = [("TIME", "9-18")];
        assert_eq!(
            decided(&assess(&db("a", "available", &hours), &s, at(EVENING))).0,
            Action::Stop
        );
        assert_eq!(
            decided(&assess(&db("a", "stopped", &hours), &s, at(MORNING))).0,
            Action::Start
        );
        assert_eq!(
            decided(&assess(&db("a", "available", &hours), &s, at(MORNING))).0,
            Action::Leave
        );
        for status in [
            "starting",
            "stopping",
            "backing-up",
            "modifying",
            "rebooting",
            "upgrading",
        ] {
            let (action, reason, _) =
                decided(&assess(&db("a", status, &hours), &s, at(EVENING))).clone();
            assert_eq!(action, Action::Leave, "{status}");
            assert!(
                reason.ends_with(&format!("status {status}: left to settle")),
                "{reason}"
            );
        }
    }

    #[test]
    fn the_same_tags_as_an_instance_in_the_forms_rds_accepts() {
        let s = settings();
        let berlin = db(
            "a",
            "stopped",
            &[
                ("DAY", "mon-fri"),
                ("TIME", "09:30-18:00"),
                ("TZ", "Europe/Berlin"),
            ],
        );
        // 10:00 in Seoul is 02:00 in Berlin: stays stopped.
        assert_eq!(decided(&assess(&berlin, &s, at(MORNING))).0, Action::Leave);
        assert_eq!(
            decided(&assess(&berlin, &s, at("2026-11-25T10:00:00+01:00"))).0,
            Action::Start
        );
        let stop_only = db(
            "a",
            "stopped",
            &[("TIME", "9-18"), ("AUTOSTOP_MODE", "stop-only")],
        );
        assert!(decided(&assess(&stop_only, &s, at(MORNING)))
            .1
            .ends_with("not started: AUTOSTOP_MODE=stop-only"));
        let held = db(
            "a",
            "available",
            &[
                ("TIME", "9-18"),
                ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T23:00:00+09:00"),
            ],
        );
        assert_eq!(decided(&assess(&held, &s, at(EVENING))).0, Action::Leave);
        let skip = db(
            "a",
            "stopped",
            &[
                ("TIME", "9-18"),
                ("AUTOSTOP_SKIP_DATES", "2026-11-25 2026-12-25"),
            ],
        );
        assert_eq!(decided(&assess(&skip, &s, at(MORNING))).0, Action::Leave);
        assert_eq!(
            assess(
                &db(
                    "a",
                    "available",
                    &[("AUTOSTOP_ENABLE", "false"), ("TIME", "9-18")]
                ),
                &s,
                at(EVENING)
            ),
            Assessment::Unmanaged
        );
        let bad = skipped(&assess(
            &db("a", "available", &[("TIME", "9-25")]),
            &s,
            at(EVENING),
        ));
        assert!(bad.0.starts_with("TIME:") && bad.1, "{bad:?}");
        let hibernate = skipped(&assess(
            &db(
                "a",
                "available",
                &[("TIME", "9-18"), ("AUTOSTOP_HIBERNATE", "true")],
            ),
            &s,
            at(EVENING),
        ));
        assert!(
            hibernate.0.contains("a database cannot hibernate"),
            "{hibernate:?}"
        );
    }

    #[test]
    fn aurora_is_scheduled_as_a_cluster_never_by_its_members() {
        let s = settings();
        let cluster = Database {
            kind: Kind::Cluster,
            engine: "aurora-postgresql".into(),
            engine_mode: Some("provisioned".into()),
            ..db("orders", "available", &[("TIME", "9-18")])
        };
        assert_eq!(decided(&assess(&cluster, &s, at(EVENING))).0, Action::Stop);
        let member = Database {
            member_of: Some("orders".into()),
            engine: "aurora-postgresql".into(),
            ..db("orders-1", "available", &[("TIME", "0-23")])
        };
        let (reason, bad) = skipped(&assess(&member, &s, at(EVENING)));
        assert!(
            reason.starts_with(
                "a member of Aurora cluster orders: its cluster is started and stopped as one"
            ),
            "{reason}"
        );
        assert!(!bad);
    }

    #[test]
    fn what_rds_cannot_stop_is_skipped_with_the_reason() {
        let s = settings();
        let tags = [("TIME", "9-18")];
        let cases = [
            (
                Database {
                    replica_of: Some("main".into()),
                    ..db("r", "available", &tags)
                },
                "a read replica (of main)",
            ),
            (
                Database {
                    replicas: vec!["r1".into(), "r2".into()],
                    ..db("main", "available", &tags)
                },
                "the source of read replicas (r1, r2)",
            ),
            (
                Database {
                    kind: Kind::Cluster,
                    engine_mode: Some("serverless".into()),
                    ..db("v1", "available", &tags)
                },
                "Aurora Serverless v1",
            ),
            (
                Database {
                    kind: Kind::Cluster,
                    global_secondary: true,
                    ..db("g", "available", &tags)
                },
                "a secondary cluster of a global database",
            ),
            (
                Database {
                    engine: "custom-oracle-ee".into(),
                    ..db("c", "available", &tags)
                },
                "RDS Custom (custom-oracle-ee)",
            ),
        ];
        for (database, says) in cases {
            let (reason, bad) = skipped(&assess(&database, &s, at(EVENING)));
            assert!(reason.starts_with(says), "{reason}");
            assert!(!bad, "{reason}");
        }
    }

    #[test]
    fn a_database_rds_restarted_after_seven_days_is_stopped_again_and_said_so() {
        let s = settings();
        let stopped = |at: &str| {
            db(
                "a",
                "available",
                &[("TIME", "9-18"), ("lightsout:last-action", at)],
            )
        };
        // Stopped by the schedule 8 days ago, available now outside its window: RDS started it.
        let a = assess(
            &stopped("stopped 2026-11-17T19:00+09:00 schedule"),
            &s,
            at(EVENING),
        );
        let (action, reason, restarted) = decided(&a);
        assert_eq!(action, Action::Stop);
        assert!(restarted && reason.ends_with("restarted by RDS (stopped by the schedule seven or more days ago, RDS starts a stopped database after seven days)"), "{reason}");
        // Exactly seven days is RDS's doing too; six days is someone else's start.
        assert!(
            decided(&assess(
                &stopped("stopped 2026-11-18T20:00+09:00 schedule"),
                &s,
                at(EVENING)
            ))
            .2
        );
        assert!(
            !decided(&assess(
                &stopped("stopped 2026-11-19T19:00+09:00 schedule"),
                &s,
                at(EVENING)
            ))
            .2
        );
        // Stopped by a request, or last started: not the schedule's stop.
        assert!(
            !decided(&assess(
                &stopped("stopped 2026-11-10T19:00+09:00 request r-1"),
                &s,
                at(EVENING)
            ))
            .2
        );
        assert!(
            !decided(&assess(
                &stopped("started 2026-11-10T09:00+09:00 schedule"),
                &s,
                at(EVENING)
            ))
            .2
        );
        // Within its window it is wanted running: nothing to say.
        let (action, _, restarted) = decided(&assess(
            &stopped("stopped 2026-11-17T19:00+09:00 schedule"),
            &s,
            at(MORNING),
        ));
        assert_eq!((action, restarted), (Action::Leave, false));
    }
}
