//! DiscoverALBs: every Application Load Balancer that opts in by its tags (`AUTOSTOP_ENABLE=true`),
//! awake, and every sleeping one (its snapshot in the bucket), each as the per-ALB event the
//! workflow's states take; the state machine's Map state runs the workflow over them.
//!
//! Its event: `time` (the schedule's) or `now`, passed on to every ALB; `single`, the seed's
//! single-ALB event (from the stack's `Alb*` parameters), put first in the list as it is; and
//! `discover` (default true), whether to look for ALBs by their tags at all. Answers with
//! [`Discovered`] (`albs`, `awake`, `asleep`, `skipped` with each reason, `untagged`), decided by
//! `lightsout_alb::discovery`. It changes nothing. Counts `AlbsFound` and `AlbsSkipped`.
//!
//! Settings: `SNAPSHOT_BUCKET` (required), `SCHEDULE_TIMEZONE` (default Asia/Seoul),
//! `RECORD_ZONES` and `RECORD_NAMES` (the records the stack's roles may change; an ALB whose
//! record tags name another is left out with the reason; neither set: not checked).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lambda_runtime::Error;
use serde_json::Value;

use lightsout_alb::discovery::{discover, with_single, AllowedRecords, Context, Discovered};
use lightsout_alb::ports::{Albs, Snapshots};
use lightsout_alb::{AlbError, ErrorKind};
use lightsout_elbv2::Elbv2;
use lightsout_runtime::metrics::{Metrics, FAILURES};
use lightsout_runtime::{Counted, Payload};
use lightsout_schedule::event::{describe, kind};
use lightsout_schedule::policy::parse_zone;
use lightsout_schedule::settings::DEFAULT_ZONE;
use lightsout_snapshots::SnapshotStore;

/// Load balancers the workflow runs for.
const ALBS_FOUND: &str = "AlbsFound";
/// Load balancers left out, each with its reason.
const ALBS_SKIPPED: &str = "AlbsSkipped";

/// The function's settings (its Lambda environment).
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    /// `SNAPSHOT_BUCKET`: where the snapshots are, the sleeping load balancers with them.
    snapshot_bucket: String,
    /// `SCHEDULE_TIMEZONE`: the zone of a load balancer without a `TZ` tag.
    default_zone: Tz,
    /// `RECORD_ZONES` and `RECORD_NAMES` (comma-separated; the stack's `AlbRecordZones` and
    /// `AlbRecordNames`): the records tagged ALBs may have. Neither set: not checked.
    records: Option<AllowedRecords>,
}

impl Settings {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let snapshot_bucket = get("SNAPSHOT_BUCKET")
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .ok_or(
                "setting SNAPSHOT_BUCKET: expected the bucket of the ALB snapshots, got nothing",
            )?;
        let default_zone = match get("SCHEDULE_TIMEZONE").filter(|z| !z.trim().is_empty()) {
            None => DEFAULT_ZONE,
            Some(name) => parse_zone(&name).ok_or_else(|| {
                format!("setting SCHEDULE_TIMEZONE: `{name}` is not an IANA time zone such as Asia/Seoul")
            })?,
        };
        let records = match (get("RECORD_ZONES"), get("RECORD_NAMES")) {
            (None, None) => None,
            (zones, names) => Some(AllowedRecords::from_lists(
                &zones.unwrap_or_default(),
                &names.unwrap_or_default(),
            )),
        };
        Ok(Settings {
            snapshot_bucket,
            default_zone,
            records,
        })
    }
}

/// The answer: what discovery found, counted from its type.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
struct Found(Discovered);

impl Counted for Found {
    fn count(&self, metrics: &Metrics) {
        metrics.add(ALBS_FOUND, self.0.albs.len() as u64);
        metrics.add(ALBS_SKIPPED, self.0.skipped.len() as u64);
    }
}

/// The run's `now` and `time` (RFC 3339 strings, passed on to every ALB), read from the event.
fn instants(event: &Value) -> Result<(Option<String>, Option<String>), AlbError> {
    let Value::Object(map) = event else {
        return Err(AlbError::invalid(format!(
            "event: expected a JSON object, got {}",
            kind(event)
        )));
    };
    let read = |field: &str| {
        match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if DateTime::parse_from_rfc3339(s.trim()).is_ok() => {
            Ok(Some(s.trim().to_string()))
        }
        Some(other) => Err(AlbError::invalid(format!(
            "invalid input: {field}: expected an RFC 3339 time such as 2026-11-25T09:00:00+09:00, got {}",
            describe(other)
        ))),
    }
    };
    Ok((read("now")?, read("time")?))
}

/// `discover`: whether to look for ALBs by their tags at all (default true; the stack sends false
/// when the fleet is disabled and only the single-ALB input runs).
fn wants_discovery(event: &Value) -> Result<bool, AlbError> {
    match event.get("discover") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(AlbError::invalid(format!(
            "invalid input: discover: expected true or false, got {}",
            describe(other)
        ))),
    }
}

async fn handle(
    event: &Value,
    settings: &Settings,
    albs: &impl Albs,
    snapshots: &impl Snapshots,
    clock: DateTime<Utc>,
) -> Result<Found, AlbError> {
    let (now, time) = instants(event)?;
    let found = if wants_discovery(event)? {
        let live = albs.all().await?;
        let stored = snapshots.all(&settings.snapshot_bucket).await?;
        let context = Context {
            snapshot_bucket: settings.snapshot_bucket.clone(),
            default_zone: settings.default_zone,
            now,
            time,
            clock,
            records: settings.records.clone(),
        };
        discover(&live, &stored, &context)
    } else {
        Discovered::default()
    };
    let found = match event.get("single") {
        None | Some(Value::Null) => found,
        Some(single) => with_single(found, single.clone()),
    };
    for skipped in &found.skipped {
        tracing::warn!(
            alb = skipped.alb_name,
            reason = skipped.reason,
            "load balancer left out"
        );
    }
    tracing::info!(
        awake = ?found.awake,
        asleep = ?found.asleep,
        skipped = found.skipped.len(),
        untagged = found.untagged,
        "discovered"
    );
    Ok(Found(found))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let (elbv2, store) = (Elbv2::new(&config), SnapshotStore::new(&config));
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    let settings = &settings;
    let (elbv2, store) = (&elbv2, &store);
    let metrics = Metrics::new("discover-albs", &[ALBS_FOUND, ALBS_SKIPPED, FAILURES]);
    lightsout_runtime::serve(&metrics, |payload: Payload<Value>, _| async move {
        let settings = settings
            .as_ref()
            .map_err(|e| lightsout_runtime::diagnostic("InvalidSettings", e))?;
        let event = payload
            .into_result()
            .map_err(|why| lightsout_runtime::diagnostic(ErrorKind::InvalidInput.name(), why))?;
        handle(&event, settings, elbv2, store, Utc::now())
            .await
            .map_err(|e| lightsout_runtime::diagnostic(e.error_type(), &e))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_alb::fake::{tagged_event, FakeAccount, NIGHT, WORKING_HOURS};
    use lightsout_alb::AlbEvent;
    use serde_json::json;

    fn settings() -> Settings {
        Settings {
            snapshot_bucket: "lightsout-snapshots".into(),
            default_zone: DEFAULT_ZONE,
            records: None,
        }
    }

    fn clock() -> DateTime<Utc> {
        "2026-11-25T00:00:00Z".parse().unwrap()
    }

    async fn run(account: &FakeAccount, event: Value) -> Result<Discovered, AlbError> {
        handle(&event, &settings(), account, account, clock())
            .await
            .map(|f| f.0)
    }

    #[tokio::test]
    async fn a_tagged_alb_is_found_awake_then_asleep_after_the_night() {
        let account = FakeAccount::new();
        let alb = tagged_event(
            NIGHT,
            json!({"lightsout:domain": "dev.example.com",
            "lightsout:hosted-zone": "Z0123456789EXAMPLE"}),
        );
        account.add_alb(&alb);
        let found = run(&account, json!({"now": NIGHT})).await.unwrap();
        assert_eq!(found.awake, ["dev-alb"]);
        let event = AlbEvent::parse(&found.albs[0], clock()).unwrap();
        assert_eq!(event.record.unwrap().domain_name, "dev.example.com.");
        assert_eq!(event.subnets, alb.subnets);
        assert_eq!(found.albs[0]["now"], NIGHT);

        // The night's DeleteALB: the snapshot saved, the ALB gone.
        let (info, _) = account.with(|s| s.albs["dev-alb"].clone());
        let snapshot = account.snapshot(&info, "dev-alb", NIGHT).await.unwrap();
        account
            .save("lightsout-snapshots", &snapshot)
            .await
            .unwrap();
        account.delete(&info.arn).await.unwrap();

        let found = run(&account, json!({"time": "2026-11-26T00:00:00Z"}))
            .await
            .unwrap();
        assert_eq!(
            (found.awake.len(), found.asleep.as_slice()),
            (0, &["dev-alb".to_string()][..])
        );
        let event = AlbEvent::parse(&found.albs[0], clock()).unwrap();
        assert_eq!(event.subnets, alb.subnets);
        assert_eq!(event.schedule, alb.schedule);
        assert_eq!(event.record, alb.record);
    }

    #[tokio::test]
    async fn untagged_and_unreadable_are_told_apart() {
        let account = FakeAccount::new();
        account.add_alb(&lightsout_alb::fake::event(WORKING_HOURS, json!({})));
        account.with(|s| {
            s.unreadable.insert(
                ("lightsout-snapshots".into(), "qa-alb".into()),
                "s3://lightsout-snapshots/lightsout/alb-snapshots/qa-alb.json: not JSON".into(),
            )
        });
        let found = run(&account, json!({})).await.unwrap();
        assert!(found.albs.is_empty());
        assert_eq!(found.untagged, 1);
        assert_eq!(found.skipped.len(), 1);
        assert_eq!(found.skipped[0].alb_name, "qa-alb");
        assert!(found.skipped[0].reason.contains("not JSON"));
        let metrics = Metrics::in_namespace(
            "lightsout",
            "discover-albs",
            &[ALBS_FOUND, ALBS_SKIPPED, FAILURES],
        );
        Found(found).count(&metrics);
        assert_eq!((metrics.get(ALBS_FOUND), metrics.get(ALBS_SKIPPED)), (0, 1));
    }

    #[tokio::test]
    async fn a_bad_time_is_named_before_any_call() {
        let account = FakeAccount::new();
        let error = run(&account, json!({"time": "yesterday"}))
            .await
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert!(
            error.message.contains("time: expected an RFC 3339 time"),
            "{}",
            error.message
        );
        let error = run(&account, json!(["x"])).await.unwrap_err();
        assert!(error.message.starts_with("event: expected a JSON object"));
        assert!(account.with(|s| s.calls.is_empty()));
    }

    #[tokio::test]
    async fn the_single_input_alone_when_discovery_is_off() {
        let account = FakeAccount::new();
        let single = json!({"albName": "dev-alb", "startTime": 9, "endTime": 18});
        let found = run(
            &account,
            json!({"discover": false, "single": single.clone()}),
        )
        .await
        .unwrap();
        assert_eq!(found.albs, [single]);
        assert!(account.with(|s| s.calls.is_empty()), "nothing is listed");
        let error = run(&account, json!({"discover": "yes"})).await.unwrap_err();
        assert!(error.message.contains("discover: expected true or false"));
    }

    #[tokio::test]
    async fn a_failed_listing_is_the_runs_error() {
        let account = FakeAccount::new();
        account.fail(
            "DescribeTags",
            AlbError::aws(true, "DescribeTags: Throttling: slow down"),
        );
        let error = run(&account, json!({})).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::AwsTransient);
    }

    #[test]
    fn settings_name_what_is_wrong() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Settings::from_lookup(env(&[("SNAPSHOT_BUCKET", "b-1")])).unwrap(),
            Settings {
                snapshot_bucket: "b-1".into(),
                default_zone: DEFAULT_ZONE,
                records: None,
            }
        );
        let records = Settings::from_lookup(env(&[
            ("SNAPSHOT_BUCKET", "b-1"),
            ("RECORD_ZONES", "Z0A,Z0B"),
            ("RECORD_NAMES", ""),
        ]))
        .unwrap()
        .records;
        assert_eq!(
            records,
            Some(AllowedRecords {
                zones: vec!["Z0A".into(), "Z0B".into()],
                names: vec![],
            })
        );
        assert!(Settings::from_lookup(env(&[]))
            .unwrap_err()
            .starts_with("setting SNAPSHOT_BUCKET"));
        let zone = Settings::from_lookup(env(&[
            ("SNAPSHOT_BUCKET", "b"),
            ("SCHEDULE_TIMEZONE", "Seoul"),
        ]));
        assert!(zone
            .unwrap_err()
            .starts_with("setting SCHEDULE_TIMEZONE: `Seoul`"));
    }
}
