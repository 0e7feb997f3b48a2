//! `lightsout plan`: what `ec2-autostop` would do now, instance by instance, without doing it.
//!
//! The instances are listed by the same adapter as the function's (lightsout-ec2: same filter,
//! same paging) and each is decided by the same `lightsout_schedule::assess` the function acts
//! on; only the printing is here.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use lightsout_ec2::{Ec2, Instances, Selector};
use lightsout_schedule::cadence::Cadence;
use lightsout_schedule::{
    assess, classify, plan, Action, Assessment, Classification, Instance, InstanceState,
    LocalMoment, Settings,
};
use lightsout_sdk::{AwsError, CallLimits};

use crate::{text, Outcome, Usage, EXIT_AWS, EXIT_INVALID, EXIT_OK};

/// One instance's line of the plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub instance_id: String,
    pub region: String,
    /// The `Name` tag.
    pub name: Option<String>,
    /// The state now: pending, running, stopping, stopped.
    pub state: &'static str,
    /// running or stopped; `None` when skipped.
    pub wanted: Option<String>,
    /// start, stop, leave or skip.
    pub action: &'static str,
    /// A stop would hibernate.
    pub hibernate: bool,
    /// The reason the function's report gives.
    pub reason: String,
    /// What the function does next, after this run, and at which of its runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Next>,
    /// Skipped because a tag cannot be read.
    #[serde(skip)]
    pub bad_tags: bool,
}

/// The next start or stop of an instance: at the first run of the schedule at which its tags
/// want it changed (after what this run does).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Next {
    /// start or stop.
    pub action: &'static str,
    /// The run, RFC 3339 in UTC.
    pub at: String,
    /// The run in the instance's own zone, for the table: `Thu 10:00 KST`.
    #[serde(skip)]
    pub local: String,
}

/// How far ahead the next start or stop is looked for.
const NEXT_HORIZON_DAYS: i64 = 7;

/// When the function runs, from `now` on: the schedule's runs, or every minute for a rate
/// schedule (whose instants are not known: the table then says so).
pub fn runs(cadence: &Cadence, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let until = now + Duration::days(NEXT_HORIZON_DAYS);
    cadence.runs(now, until).unwrap_or_else(|| {
        (1..=NEXT_HORIZON_DAYS * 24 * 60)
            .map(|m| now + Duration::minutes(m))
            .collect()
    })
}

/// The first of `runs` at which the function would start or stop `instance`, once this run has
/// done `action`.
fn next_action(
    instance: &Instance,
    action: Action,
    settings: &Settings,
    runs: &[DateTime<Utc>],
) -> Option<Next> {
    let Classification::Managed(policy) = classify(&instance.tags, settings.default_zone) else {
        return None;
    };
    let state = match (action, instance.state) {
        (Action::Start, _) | (_, InstanceState::Pending) => InstanceState::Running,
        (Action::Stop, _) | (_, InstanceState::Stopping) => InstanceState::Stopped,
        (Action::Leave, state) => state,
    };
    runs.iter().find_map(|run| {
        let name = match plan(&policy, state, *run, &settings.holidays).action {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Leave => return None,
        };
        Some(Next {
            action: name,
            at: run.to_rfc3339_opts(SecondsFormat::Secs, true),
            local: run
                .with_timezone(&policy.schedule.zone)
                .format("%a %m-%d %H:%M %Z")
                .to_string(),
        })
    })
}

/// A region that could not be listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub region: String,
    pub error_code: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub start: usize,
    pub stop: usize,
    pub leave: usize,
    pub skip: usize,
}

/// The whole plan, as `--json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    pub decision_time: String,
    pub default_timezone: String,
    /// The schedule expression the next starts and stops are found under.
    pub schedule: String,
    pub regions: Vec<String>,
    pub instances: Vec<Row>,
    pub summary: Summary,
    pub failed: Vec<Failure>,
}

fn state_name(state: InstanceState) -> &'static str {
    match state {
        InstanceState::Pending => "pending",
        InstanceState::Running => "running",
        InstanceState::Stopping => "stopping",
        InstanceState::Stopped => "stopped",
        InstanceState::Other => "other",
    }
}

/// The plan row of one listed instance; `None` for an unmanaged one (never shown, never touched).
/// `runs`: the function's runs after `now` (see [`runs`]), for the next start or stop.
pub fn row(
    instance: &Instance,
    region: &str,
    settings: &Settings,
    now: DateTime<Utc>,
    runs: &[DateTime<Utc>],
) -> Option<Row> {
    let (wanted, action, hibernate, reason, bad_tags, next) = match assess(instance, settings, now)
    {
        Assessment::Unmanaged => return None,
        Assessment::Skipped { reason, bad_tags } => (None, "skip", false, reason, bad_tags, None),
        Assessment::Decided {
            plan, hibernate, ..
        } => {
            let action = match plan.action {
                Action::Start => "start",
                Action::Stop => "stop",
                Action::Leave => "leave",
            };
            (
                Some(plan.wanted.to_string()),
                action,
                hibernate && plan.action == Action::Stop,
                plan.reason,
                false,
                next_action(instance, plan.action, settings, runs),
            )
        }
    };
    Some(Row {
        instance_id: instance.id.clone(),
        region: region.to_string(),
        name: instance.name(),
        state: state_name(instance.state),
        wanted,
        action,
        hibernate,
        reason,
        next,
        bad_tags,
    })
}

/// What one region's listing gave: its managed instances, or why they could not be listed.
pub type Listing = (String, Result<Vec<Instance>, AwsError>);

/// Decides for each listed instance, region by region; `cadence` says when the function runs.
pub fn build(
    listings: Vec<Listing>,
    settings: &Settings,
    cadence: &Cadence,
    now: DateTime<Utc>,
) -> PlanReport {
    let runs = runs(cadence, now);
    let mut instances = Vec::new();
    let mut failed = Vec::new();
    let regions = listings.iter().map(|(region, _)| region.clone()).collect();
    for (region, listed) in listings {
        match listed {
            Ok(listed) => instances.extend(
                listed
                    .iter()
                    .filter_map(|i| row(i, &region, settings, now, &runs)),
            ),
            Err(e) => failed.push(Failure {
                region,
                error_code: e.code,
                error: e.message,
            }),
        }
    }
    instances.sort_by(|a, b| (&a.region, &a.instance_id).cmp(&(&b.region, &b.instance_id)));
    let count = |action: &str| instances.iter().filter(|r| r.action == action).count();
    let summary = Summary {
        start: count("start"),
        stop: count("stop"),
        leave: count("leave"),
        skip: count("skip"),
    };
    PlanReport {
        decision_time: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        default_timezone: settings.default_zone.to_string(),
        schedule: cadence.expression().to_string(),
        regions,
        instances,
        summary,
        failed,
    }
}

/// The table people read.
pub fn render(report: &PlanReport, now: DateTime<Utc>, settings: &Settings) -> String {
    let zone = settings.default_zone;
    let mut out = format!(
        "Plan for {} {zone} ({}), {}: nothing is changed.\n\n",
        LocalMoment::at(now, zone),
        report.decision_time,
        report.regions.join(", ")
    );
    let several = report.regions.len() > 1;
    if report.instances.is_empty() {
        out.push_str("No managed instances (tag AUTOSTOP_ENABLE=true).\n");
    } else {
        let mut header = vec!["INSTANCE"];
        if several {
            header.push("REGION");
        }
        header.extend(["NAME", "STATE", "WANTED", "ACTION", "NEXT", "REASON"]);
        let rows: Vec<Vec<String>> = report
            .instances
            .iter()
            .map(|r| {
                let mut cells = vec![r.instance_id.clone()];
                if several {
                    cells.push(r.region.clone());
                }
                cells.extend([
                    r.name.clone().unwrap_or_else(|| "-".into()),
                    r.state.into(),
                    r.wanted.clone().unwrap_or_else(|| "-".into()),
                    if r.hibernate {
                        "stop (hibernate)".into()
                    } else {
                        r.action.into()
                    },
                    r.next
                        .as_ref()
                        .map_or_else(|| "-".into(), |n| format!("{} {}", n.action, n.local)),
                    r.reason.clone(),
                ]);
                cells
            })
            .collect();
        out.push_str(&text::table(&header, &rows));
    }
    let s = &report.summary;
    out.push_str(&format!(
        "\n{} to start, {} to stop, {} left as they are, {} skipped.\n",
        s.start, s.stop, s.leave, s.skip
    ));
    if !report.instances.is_empty() {
        out.push_str(&format!(
            "NEXT: the run of `{}` ({zone}) at which the function starts or stops it next, \
             within {NEXT_HORIZON_DAYS} days{}.\n",
            report.schedule,
            if report.schedule.starts_with("rate(") {
                " (a rate schedule runs from when it was made: up to one interval later)"
            } else {
                ""
            }
        ));
    }
    out
}

/// `lightsout plan`.
pub async fn run(
    settings: &Settings,
    cadence: &Cadence,
    now: DateTime<Utc>,
    json: bool,
) -> Outcome {
    let config = lightsout_sdk::aws_config(CallLimits::BULK).await;
    let Some(clients) = Ec2::regional(&config, &settings.regions, settings.page_size) else {
        return Outcome::Usage(Usage(
            "no region: pass --region, or set REGIONS or AWS_REGION".into(),
        ));
    };
    let mut listings = Vec::new();
    for ec2 in &clients {
        let listed = ec2.instances(&Selector::Managed).await;
        listings.push((ec2.region().to_string(), listed));
    }
    let report = build(listings, settings, cadence, now);
    finish(&report, now, settings, json)
}

/// The output and exit code of a plan.
pub fn finish(report: &PlanReport, now: DateTime<Utc>, settings: &Settings, json: bool) -> Outcome {
    let stdout = if json {
        serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
    } else {
        render(report, now, settings)
    };
    let mut stderr = String::new();
    for f in &report.failed {
        stderr.push_str(&format!(
            "{}: could not list instances: {}: {}\n",
            f.region, f.error_code, f.error
        ));
    }
    let bad: Vec<&Row> = report.instances.iter().filter(|r| r.bad_tags).collect();
    for r in &bad {
        stderr.push_str(&format!(
            "{} ({}): tags cannot be read, skipped: {}\n",
            r.instance_id, r.region, r.reason
        ));
    }
    let code = if !report.failed.is_empty() {
        EXIT_AWS
    } else if !bad.is_empty() {
        EXIT_INVALID
    } else {
        EXIT_OK
    };
    Outcome::Report {
        stdout,
        stderr,
        code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A region whose listing is given.
    struct Listed {
        region: &'static str,
        instances: Result<Vec<Instance>, AwsError>,
    }

    fn instance(id: &str, state: InstanceState, tags: &[(&str, &str)]) -> Instance {
        let mut tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tags.entry("AUTOSTOP_ENABLE".into())
            .or_insert_with(|| "true".into());
        Instance {
            id: id.into(),
            state,
            tags,
            state_reason: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T20:00:00+09:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn settings() -> Settings {
        Settings::from_lookup(|_| None).unwrap()
    }

    fn plan(regions: &[Listed]) -> PlanReport {
        plan_under(regions, lightsout_schedule::cadence::DEFAULT_EXPRESSION)
    }

    fn plan_under(regions: &[Listed], expression: &str) -> PlanReport {
        let listings = regions
            .iter()
            .map(|r| (r.region.to_string(), r.instances.clone()))
            .collect();
        let cadence = Cadence::parse(expression, settings().default_zone).unwrap();
        build(listings, &settings(), &cadence, now())
    }

    fn seoul() -> Listed {
        Listed {
            region: "ap-northeast-2",
            instances: Ok(vec![
                instance(
                    "i-2",
                    InstanceState::Running,
                    &[("Name", "web-dev"), ("DAY", "월-금"), ("TIME", "9~18")],
                ),
                instance(
                    "i-1",
                    InstanceState::Stopped,
                    &[("Name", "야간배치"), ("TIME", "18~23")],
                ),
                instance(
                    "i-3",
                    InstanceState::Running,
                    &[
                        ("TIME", "9~18"),
                        ("AUTOSTOP_HIBERNATE", "true"),
                        ("AUTOSTOP_MODE", "start-only"),
                    ],
                ),
                instance(
                    "i-4",
                    InstanceState::Running,
                    &[("TIME", "9~18"), ("AUTOSTOP_HIBERNATE", "true")],
                ),
                instance("i-5", InstanceState::Running, &[("TIME", "9 to 6")]),
                instance(
                    "i-6",
                    InstanceState::Running,
                    &[("TIME", "9~18"), ("AUTOSTOP_ENABLE", "false")],
                ),
            ]),
        }
    }

    #[test]
    fn every_managed_instance_gets_a_decision() {
        let report = plan(&[seoul()]);
        let rows: Vec<(&str, &str, Option<&str>, &str, bool)> = report
            .instances
            .iter()
            .map(|r| {
                (
                    r.instance_id.as_str(),
                    r.state,
                    r.wanted.as_deref(),
                    r.action,
                    r.hibernate,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("i-1", "stopped", Some("running"), "start", false),
                ("i-2", "running", Some("stopped"), "stop", false),
                ("i-3", "running", Some("stopped"), "leave", false),
                ("i-4", "running", Some("stopped"), "stop", true),
                ("i-5", "running", None, "skip", false),
            ]
        );
        assert!(report.instances[2]
            .reason
            .ends_with("not stopped: AUTOSTOP_MODE=start-only"));
        assert_eq!(
            report.summary,
            Summary {
                start: 1,
                stop: 2,
                leave: 1,
                skip: 1
            }
        );
        let Outcome::Report { stderr, code, .. } = finish(&report, now(), &settings(), false)
        else {
            panic!()
        };
        assert_eq!(code, EXIT_INVALID);
        assert_eq!(
            stderr,
            "i-5 (ap-northeast-2): tags cannot be read, skipped: TIME: `9 to 6` is not a window; \
             expected START~END such as `9~18` or `09:30~18:00`\n"
        );
    }

    #[test]
    fn the_table() {
        let report = plan(&[seoul()]);
        let out = render(&report, now(), &settings());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Plan for Wed 2026-11-25 20:00 Asia/Seoul (2026-11-25T11:00:00Z), ap-northeast-2: nothing is changed."
        );
        assert_eq!(
            lines[2],
            "INSTANCE  NAME      STATE    WANTED   ACTION            NEXT                       REASON"
        );
        assert_eq!(lines[3], "i-1       야간배치  stopped  running  start             stop Thu 11-26 00:00 KST   in window 18:00–23:59 of 2026-11-25 (Asia/Seoul); now Wed 2026-11-25 20:00");
        assert!(lines[6].starts_with("i-4       -         running  stopped  stop (hibernate)  start Thu 11-26 09:00 KST  outside schedule daily 09:00–18:59"), "{out}");
        assert_eq!(
            lines[lines.len() - 2],
            "1 to start, 2 to stop, 1 left as they are, 1 skipped."
        );
        assert_eq!(
            lines.last().unwrap(),
            &"NEXT: the run of `cron(0/15 * * * ? *)` (Asia/Seoul) at which the function starts or stops it next, within 7 days."
        );
    }

    #[test]
    fn the_next_start_or_stop_is_at_a_run_of_the_schedule() {
        let office = Listed {
            region: "ap-northeast-2",
            instances: Ok(vec![
                instance(
                    "i-1",
                    InstanceState::Stopped,
                    &[("DAY", "mon-fri"), ("TIME", "09:30~18:00")],
                ),
                instance(
                    "i-2",
                    InstanceState::Stopped,
                    &[("TIME", "9~18"), ("AUTOSTOP_MODE", "stop-only")],
                ),
                instance(
                    "i-3",
                    InstanceState::Stopped,
                    &[("TIME", "9~18"), ("TZ", "Europe/Berlin")],
                ),
            ]),
        };
        let next = |report: &PlanReport| -> Vec<Option<(&str, String)>> {
            report
                .instances
                .iter()
                .map(|r| r.next.as_ref().map(|n| (n.action, n.local.clone())))
                .collect()
        };
        // Every 15 minutes: on the window's own minute. Stop-only: never started, so nothing next.
        let report = plan_under(std::slice::from_ref(&office), "cron(0/15 * * * ? *)");
        assert_eq!(
            next(&report),
            [
                Some(("start", "Thu 11-26 09:30 KST".to_string())),
                None,
                // 12:00 in Berlin: started by this run, stopped at the end of its window.
                Some(("stop", "Wed 11-25 19:00 CET".to_string())),
            ]
        );
        assert_eq!(
            report.instances[0].next.as_ref().unwrap().at,
            "2026-11-26T00:30:00Z"
        );
        // Hourly: the first run after 09:30 is 10:00.
        let report = plan_under(&[office], "cron(0 * * * ? *)");
        assert_eq!(
            next(&report)[0],
            Some(("start", "Thu 11-26 10:00 KST".to_string()))
        );
    }

    #[test]
    fn a_region_that_cannot_be_listed_is_an_aws_error() {
        let broken = Listed {
            region: "us-east-1",
            instances: Err(AwsError::new(
                "DescribeInstances",
                "UnauthorizedOperation",
                "not allowed",
            )),
        };
        let report = plan(&[seoul(), broken]);
        assert_eq!(report.instances.len(), 5);
        let Outcome::Report {
            stdout,
            stderr,
            code,
        } = finish(&report, now(), &settings(), true)
        else {
            panic!()
        };
        assert_eq!(code, EXIT_AWS);
        assert!(stderr.starts_with(
            "us-east-1: could not list instances: UnauthorizedOperation: not allowed"
        ));
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["failed"][0]["errorCode"], "UnauthorizedOperation");
        assert_eq!(json["instances"][0]["instanceId"], "i-1");
        assert_eq!(json["instances"][0]["name"], "야간배치");
        assert_eq!(json["instances"][4]["wanted"], serde_json::Value::Null);
        assert!(json["instances"][0].get("badTags").is_none());
        assert_eq!(json["regions"][1], "us-east-1");
    }

    #[test]
    fn nothing_managed() {
        let empty = Listed {
            region: "ap-northeast-2",
            instances: Ok(vec![]),
        };
        let report = plan(&[empty]);
        let Outcome::Report { stdout, code, .. } = finish(&report, now(), &settings(), false)
        else {
            panic!()
        };
        assert_eq!(code, EXIT_OK);
        assert!(stdout.contains("No managed instances"));
    }
}
