//! `lightsout alb plan`: what the ALB working-hours state machine would do with an input, or
//! with every ALB that opts in by its tags.
//!
//! The input is validated by `AlbEvent::parse` (every state function's own check, with its
//! messages), the decision is `should_exist`, the branch is `next_step`: the same calls
//! CheckExistingALB and the "Determine Action" choice make. With `--input` nothing is called in
//! AWS; without it the ALBs and snapshots are listed by the discovery step's own adapters and
//! decided by its `lightsout_alb::discovery`.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use chrono_tz::Tz;
use lightsout_alb::discovery::{discover, Context, Skipped};
use lightsout_alb::{next_step, set, should_exist, AlbError, AlbEvent, AlbSnapshot, NextStep};
use lightsout_elbv2::Elbv2;
use lightsout_sdk::CallLimits;
use lightsout_snapshots::SnapshotStore;

use crate::timeline::{self, DayNames, Style};
use crate::{text, Outcome, Usage, EXIT_AWS, EXIT_INVALID, EXIT_OK};

/// How far ahead the next create and delete are looked for.
const HORIZON_DAYS: i64 = 14;

/// The states of `statemachine/alb-scheduler.asl.json` a branch runs after "Determine Action".
pub fn states(step: NextStep) -> &'static [&'static str] {
    match step {
        NextStep::Delete => &["Delete Route 53 Record", "Delete ALB"],
        NextStep::Create => &["Create ALB", "Create Route 53 Record"],
        // Create ALB first: it adds only what is missing (listeners of an ALB left half-made).
        NextStep::RepairRecord => &["Create ALB", "Create Route 53 Record"],
        NextStep::Nothing => &["No Action Required"],
    }
}

/// One situation the workflow may find in AWS, and what it does then.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    pub alb_exists: bool,
    /// Whether the domain's record points at the ALB; `None`: either way.
    pub record_exists: Option<bool>,
    /// As CheckExistingALB writes it in `nextStep`.
    pub next_step: String,
    pub states: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AlbPlan {
    pub alb_name: String,
    pub decision_time: String,
    pub should_exist: bool,
    pub reason: String,
    /// Only the cases the input allows (all of them when it does not say what exists).
    pub cases: Vec<Case>,
    pub next_create: Option<String>,
    pub next_delete: Option<String>,
}

/// `albExists`/`recordExists` as CheckExistingALB adds them: absent (or empty) is unknown.
fn known(event: &Value, field: &str) -> Result<Option<bool>, String> {
    match event.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(other) => Err(format!(
            "invalid input: {field}: expected true or false, got {other}"
        )),
    }
}

/// Every case the input leaves open, with the step `next_step` picks for it. Where the record
/// does not change the step, the two cases are one.
pub fn cases(should: bool, alb_known: Option<bool>, record_known: Option<bool>) -> Vec<Case> {
    let case = |alb: bool, record: Option<bool>| {
        let step = next_step(alb, should, record.unwrap_or(false));
        Case {
            alb_exists: alb,
            record_exists: record,
            next_step: format!("{step:?}"),
            states: states(step).to_vec(),
        }
    };
    let mut out = Vec::new();
    for alb in [true, false] {
        if alb_known.is_some_and(|k| k != alb) {
            continue;
        }
        if !alb {
            // Without an ALB there is no record of it to find: CheckExistingALB says false.
            out.push(case(false, Some(false)));
            continue;
        }
        let records: Vec<bool> = [true, false]
            .into_iter()
            .filter(|r| record_known.is_none_or(|k| k == *r))
            .collect();
        let steps: Vec<Case> = records.iter().map(|r| case(true, Some(*r))).collect();
        if steps.len() == 2 && steps[0].next_step == steps[1].next_step {
            out.push(case(true, None));
        } else {
            out.extend(steps);
        }
    }
    out
}

/// `lightsout alb plan`.
pub fn run(
    input: &str,
    at: Option<DateTime<Utc>>,
    clock: DateTime<Utc>,
    json: bool,
    ascii: bool,
) -> Outcome {
    let text = if input == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(input)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => return Outcome::Usage(Usage(format!("cannot read {input}: {e}"))),
    };
    plan_text(&text, at, clock, json, ascii)
}

/// One ALB of the account-wide plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FoundPlan {
    /// `awake` (a live ALB) or `asleep` (only its snapshot).
    pub found: &'static str,
    /// What the workflow would do with it.
    #[serde(flatten)]
    pub plan: AlbPlan,
}

/// The account-wide plan, as `--json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccountPlan {
    pub decision_time: String,
    pub snapshot_bucket: String,
    pub albs: Vec<FoundPlan>,
    pub skipped: Vec<Skipped>,
    /// Load balancers (and snapshots) without `AUTOSTOP_ENABLE=true`: never touched.
    pub untagged: usize,
}

/// `lightsout alb plan` without `--input`: every ALB that opts in by its tags, awake or asleep
/// (its snapshot in `bucket`), found as the discovery step finds them, each decided as its run
/// would decide. Only DescribeLoadBalancers, DescribeTags, ListObjectsV2 and GetObject are called.
pub async fn run_account(
    bucket: &str,
    default_zone: Tz,
    at: Option<DateTime<Utc>>,
    clock: DateTime<Utc>,
    json: bool,
) -> Outcome {
    let config = lightsout_sdk::aws_config(CallLimits::STANDARD).await;
    let live = match Elbv2::new(&config).all().await {
        Ok(live) => live,
        Err(e) => return aws_failure(&e),
    };
    let stored = match SnapshotStore::new(&config).all(bucket).await {
        Ok(stored) => stored,
        Err(e) => return aws_failure(&e),
    };
    let now = at.unwrap_or(clock);
    let rfc = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let context = Context {
        snapshot_bucket: bucket.to_string(),
        default_zone,
        now: Some(rfc(now)),
        time: None,
        clock,
        // The stack's record parameters are not known here: records are not checked.
        records: None,
    };
    let found = discover(&live, &stored, &context);
    let mut albs = Vec::new();
    for event in &found.albs {
        let Ok(parsed) = AlbEvent::parse(event, clock) else {
            continue; // discover() admitted only events that parse
        };
        let awake = found.awake.contains(&parsed.alb_name);
        albs.push(FoundPlan {
            found: if awake { "awake" } else { "asleep" },
            plan: plan_of(&parsed, Some(awake), None, next_changes(&parsed)),
        });
    }
    let report = AccountPlan {
        decision_time: rfc(now),
        snapshot_bucket: bucket.to_string(),
        albs,
        skipped: found.skipped,
        untagged: found.untagged,
    };
    let code = if report.skipped.is_empty() {
        EXIT_OK
    } else {
        EXIT_INVALID
    };
    let stdout = if json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        render_account(&report)
    };
    let stderr = report
        .skipped
        .iter()
        .map(|s| format!("{} left out: {}\n", s.alb_name, s.reason))
        .collect();
    Outcome::Report {
        stdout,
        stderr,
        code,
    }
}

fn aws_failure(error: &AlbError) -> Outcome {
    Outcome::Report {
        stdout: String::new(),
        stderr: format!("{}: {}", error.error_type(), error.message),
        code: EXIT_AWS,
    }
}

fn render_account(report: &AccountPlan) -> String {
    let rows: Vec<Vec<String>> = report
        .albs
        .iter()
        .map(|a| {
            let steps: Vec<String> = a
                .plan
                .cases
                .iter()
                .map(|c| match c.record_exists {
                    None => c.states.join(" → "),
                    Some(true) => format!("{} (record in place)", c.states.join(" → ")),
                    Some(false) => format!("{} (record missing)", c.states.join(" → ")),
                })
                .collect();
            vec![
                a.plan.alb_name.clone(),
                a.found.to_string(),
                if a.plan.should_exist {
                    "exist"
                } else {
                    "not exist"
                }
                .to_string(),
                steps.join("; or "),
                a.plan.reason.clone(),
            ]
        })
        .collect();
    let mut out = format!(
        "At {}: {} ALB(s) opt in by tag, {} left out, {} untagged (never touched); snapshots in s3://{}.\n\n",
        report.decision_time,
        report.albs.len(),
        report.skipped.len(),
        report.untagged,
        report.snapshot_bucket
    );
    if !rows.is_empty() {
        out.push_str(&text::table(
            &["ALB", "FOUND", "SHOULD", "THE WORKFLOW RUNS", "WHY"],
            &rows,
        ));
    }
    for skipped in &report.skipped {
        out.push_str(&format!(
            "left out: {}: {}\n",
            skipped.alb_name, skipped.reason
        ));
    }
    out
}

/// What the workflow would do with the validated `event`, given what is known to exist.
/// `next` is the event's [`next_changes`].
fn plan_of(
    event: &AlbEvent,
    alb_known: Option<bool>,
    record_known: Option<bool>,
    next: Changes,
) -> AlbPlan {
    let (should, reason) = should_exist(event);
    let now = event.decision_time;
    let (next_create, next_delete) = next;
    let rfc = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    // An ALB scheduled without a record has none to repair: as if it were in place, and no case
    // is told apart by it.
    let no_record = event.record.is_none();
    let mut cases = cases(
        should,
        alb_known,
        if no_record { Some(true) } else { record_known },
    );
    if no_record {
        for case in &mut cases {
            case.record_exists = None;
        }
    }
    AlbPlan {
        alb_name: event.alb_name.clone(),
        decision_time: rfc(now),
        should_exist: should,
        reason,
        cases,
        next_create: next_create.map(rfc),
        next_delete: next_delete.map(rfc),
    }
}

/// When the ALB of `event` is next to be created and next to be deleted (within the horizon).
type Changes = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn next_changes(event: &AlbEvent) -> Changes {
    timeline::next_changes(
        event.decision_time,
        Duration::days(HORIZON_DAYS),
        exists_at(event),
    )
}

/// Whether the ALB of `event` should exist at a moment. A hold says until when, not since when:
/// before the decision time the week is drawn without it.
fn exists_at(event: &AlbEvent) -> impl Fn(DateTime<Utc>) -> bool + '_ {
    move |t: DateTime<Utc>| {
        let mut moved = event.clone();
        moved.decision_time = t;
        if t < event.decision_time {
            moved.hold_until = None;
        }
        should_exist(&moved).0
    }
}

/// The plan for an input document's text.
pub fn plan_text(
    text: &str,
    at: Option<DateTime<Utc>>,
    clock: DateTime<Utc>,
    json: bool,
    ascii: bool,
) -> Outcome {
    let mut value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Outcome::Invalid(format!("InvalidInput: the input is not JSON: {e}")),
    };
    if let Some(at) = at {
        // `now` wins over `time` and the clock in the functions too.
        set(
            &mut value,
            "now",
            at.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
    }
    let event = match AlbEvent::parse(&value, clock) {
        Ok(e) => e,
        Err(e) => return Outcome::Invalid(format!("{}: {}", e.error_type(), e.message)),
    };
    let (alb_known, record_known) =
        match (known(&value, "albExists"), known(&value, "recordExists")) {
            (Ok(a), Ok(r)) => (a, r),
            (Err(e), _) | (_, Err(e)) => return Outcome::Invalid(format!("InvalidInput: {e}")),
        };
    let now = event.decision_time;
    let next = next_changes(&event);
    let plan = plan_of(&event, alb_known, record_known, next);
    let (next_create, next_delete) = next;
    if json {
        return Outcome::Ok(serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n");
    }
    let mut out = render(&event, &plan, next_create, next_delete);
    out.push('\n');
    let style = Style {
        ascii,
        on: "ALB exists",
        off: "deleted",
    };
    out.push_str(&timeline::render(
        now,
        event.schedule.zone,
        DayNames::like(value.get("days").and_then(Value::as_str)),
        style,
        exists_at(&event),
    ));
    Outcome::Ok(out)
}

fn render(
    event: &AlbEvent,
    plan: &AlbPlan,
    next_create: Option<DateTime<Utc>>,
    next_delete: Option<DateTime<Utc>>,
) -> String {
    let zone = event.schedule.zone;
    let now = event.decision_time;
    let name = &event.alb_name;
    let domain = event
        .record
        .as_ref()
        .map_or("no record", |r| r.domain_name.trim_end_matches('.'));
    let mut out = format!(
        "ALB {name} ({domain}) at {} {zone}: it should {}.\n  {}\n\n",
        now.with_timezone(&zone).format("%a %Y-%m-%d %H:%M"),
        if plan.should_exist {
            "exist"
        } else {
            "not exist"
        },
        plan.reason,
    );
    out.push_str("The state machine runs Check Existing ALB → Determine Action, then:\n");
    for case in &plan.cases {
        let situation = match (case.alb_exists, case.record_exists) {
            (false, _) => format!("no ALB named {name}"),
            (true, None) => format!("{name} exists"),
            (true, Some(true)) => format!("{name} exists and {domain} points at it"),
            (true, Some(false)) => format!("{name} exists, {domain} does not point at it"),
        };
        let prefix = if plan.cases.len() > 1 { "if " } else { "" };
        out.push_str(&format!(
            "  {prefix}{situation}: {}\n",
            case.states.join(" → ")
        ));
    }
    let steps: Vec<&str> = plan.cases.iter().map(|c| c.next_step.as_str()).collect();
    let bucket = event.snapshot_bucket.as_deref();
    if steps.contains(&"Delete") || steps.contains(&"Create") {
        out.push('\n');
    }
    if steps.contains(&"Delete") {
        out.push_str(&match bucket {
            Some(b) => format!(
                "Delete ALB first saves its configuration to s3://{b}/{}.\n",
                AlbSnapshot::key(name)
            ),
            None => "No snapshotBucket: nothing is saved before the ALB is deleted.\n".into(),
        });
    }
    if steps.contains(&"Create") {
        let listeners: Vec<String> = event
            .target_groups
            .iter()
            .map(|t| format!("{}:{}", t.protocol.as_aws(), t.port))
            .collect();
        out.push_str(&match bucket {
            Some(b) => format!(
                "Create ALB restores s3://{b}/{} if it is there, else builds listeners {}.\n",
                AlbSnapshot::key(name),
                listeners.join(", ")
            ),
            None => format!("Create ALB builds listeners {}.\n", listeners.join(", ")),
        });
    }
    out.push('\n');
    out.push_str(&timeline::next_lines(
        now,
        zone,
        Duration::days(HORIZON_DAYS),
        &[("Next create:", next_create), ("Next delete:", next_delete)],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &str = include_str!("../../../../events/alb-input.json");
    const ASL: &str = include_str!("../../../../statemachine/alb-scheduler.asl.json");

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    fn ok(outcome: Outcome) -> String {
        match outcome {
            Outcome::Ok(out) => out,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn state_names_are_the_state_machines() {
        let asl: Value = serde_json::from_str(ASL).unwrap();
        for step in NextStep::ALL {
            for state in states(step) {
                assert!(asl["States"].get(*state).is_some(), "{state}");
            }
        }
        for state in ["Check Existing ALB", "Determine Action"] {
            assert!(asl["States"].get(state).is_some(), "{state}");
        }
    }

    /// The routing is decided once, by `next_step`: "Determine Action" chooses on `nextStep`
    /// alone, one choice per step but `Nothing` (its default), and each leads through exactly
    /// the states this CLI shows for it.
    #[test]
    fn the_state_machine_routes_on_next_step_as_the_cli_shows() {
        let asl: Value = serde_json::from_str(ASL).unwrap();
        let states_of = &asl["States"];
        assert_eq!(
            states_of["Check Existing ALB"]["Next"], "Determine Action",
            "the choice must follow the state that decides nextStep"
        );
        let choice = &states_of["Determine Action"];
        let mut routed = Vec::new();
        for rule in choice["Choices"].as_array().unwrap() {
            let keys: Vec<&String> = rule.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["Next", "StringEquals", "Variable"], "{rule}");
            assert_eq!(rule["Variable"], "$.nextStep", "{rule}");
            routed.push((rule["StringEquals"].as_str().unwrap(), &rule["Next"]));
        }
        let default = &choice["Default"];
        let names: Vec<&str> = routed.iter().map(|(name, _)| *name).collect();
        let expected: Vec<&str> = NextStep::ALL
            .iter()
            .filter(|s| **s != NextStep::Nothing)
            .map(|s| s.name())
            .collect();
        assert_eq!(
            names, expected,
            "one choice per step, in NextStep::ALL's order"
        );
        for step in NextStep::ALL {
            let first = routed
                .iter()
                .find(|(name, _)| *name == step.name())
                .map_or(default, |(_, next)| *next);
            // Follow the states from the choice until a state without a Next.
            let mut path = Vec::new();
            let mut at = first.as_str();
            while let Some(name) = at {
                path.push(name);
                at = states_of[name]["Next"].as_str();
            }
            assert_eq!(path, states(step), "{step:?}");
        }
    }

    #[test]
    fn evening_with_unknown_aws_state() {
        let out = ok(plan_text(
            INPUT,
            at("2026-11-25T20:00:00+09:00"),
            Utc::now(),
            false,
            true,
        ));
        assert!(out.starts_with(
            "ALB dev-alb (dev.example.com) at Wed 2026-11-25 20:00 Asia/Seoul: it should not exist.\n  outside schedule daily 09:00–18:59 (Asia/Seoul); now Wed 2026-11-25 20:00\n"
        ), "{out}");
        assert!(out.contains("  if dev-alb exists: Delete Route 53 Record → Delete ALB\n"));
        assert!(out.contains("  if no ALB named dev-alb: No Action Required\n"));
        assert!(out.contains("No snapshotBucket: nothing is saved"));
        assert!(out.contains("Next create: Thu 2026-11-26 09:00 (in 13 h)\n"));
        assert!(
            out.contains("Wed 11-25  .........##########.....\n"),
            "{out}"
        );
    }

    #[test]
    fn morning_json_and_known_state() {
        let mut input: Value = serde_json::from_str(INPUT).unwrap();
        input["albExists"] = true.into();
        input["recordExists"] = false.into();
        input["snapshotBucket"] = "snaps".into();
        let out = ok(plan_text(
            &input.to_string(),
            at("2026-11-25T10:00:00+09:00"),
            Utc::now(),
            true,
            false,
        ));
        let plan: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(plan["shouldExist"], true);
        assert_eq!(plan["decisionTime"], "2026-11-25T01:00:00Z");
        assert_eq!(plan["cases"].as_array().unwrap().len(), 1);
        assert_eq!(plan["cases"][0]["nextStep"], "RepairRecord");
        assert_eq!(plan["cases"][0]["states"][0], "Create ALB");
        assert_eq!(plan["cases"][0]["states"][1], "Create Route 53 Record");
        assert_eq!(plan["nextDelete"], "2026-11-25T10:00:00Z");
    }

    #[test]
    fn the_inputs_own_now_is_used_without_at() {
        let mut input: Value = serde_json::from_str(INPUT).unwrap();
        input["now"] = "2026-11-28T12:00:00+09:00".into();
        input["days"] = "mon-fri".into();
        let out = ok(plan_text(&input.to_string(), None, Utc::now(), true, false));
        let plan: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(plan["shouldExist"], false);
        assert_eq!(plan["nextCreate"], "2026-11-30T00:00:00Z");
    }

    #[test]
    fn cases_cover_what_the_input_leaves_open() {
        let steps = |should, a, r| -> Vec<(bool, Option<bool>, String)> {
            cases(should, a, r)
                .into_iter()
                .map(|c| (c.alb_exists, c.record_exists, c.next_step))
                .collect()
        };
        assert_eq!(
            steps(true, None, None),
            [
                (true, Some(true), "Nothing".into()),
                (true, Some(false), "RepairRecord".into()),
                (false, Some(false), "Create".into()),
            ]
        );
        assert_eq!(
            steps(false, Some(true), None),
            [(true, None, "Delete".into())]
        );
    }

    #[test]
    fn invalid_input_gets_the_functions_messages() {
        let Outcome::Invalid(message) = plan_text(
            r#"{"albName": "-bad", "startTime": 25}"#,
            None,
            Utc::now(),
            false,
            false,
        ) else {
            panic!()
        };
        assert!(
            message.starts_with("InvalidInput: invalid input: "),
            "{message}"
        );
        assert!(message.contains("albName"), "{message}");
        assert!(matches!(
            plan_text("{not json", None, Utc::now(), false, false),
            Outcome::Invalid(m) if m.starts_with("InvalidInput: the input is not JSON")
        ));
        let mut input: Value = serde_json::from_str(INPUT).unwrap();
        input["albExists"] = "yes".into();
        assert!(matches!(
            plan_text(&input.to_string(), None, Utc::now(), false, false),
            Outcome::Invalid(m) if m.contains("albExists: expected true or false")
        ));
        assert!(matches!(
            run("/nonexistent/input.json", None, Utc::now(), false, false),
            Outcome::Usage(_)
        ));
    }
}
