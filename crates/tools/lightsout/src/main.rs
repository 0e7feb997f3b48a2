//! `lightsout`: the command line for people. Check schedule tags before putting them on an
//! instance, see what `ec2-autostop` would do to the account right now, and what the ALB
//! workflow would do with an input. It never changes anything.
//!
//! Every rule comes from the libraries the functions use (`lightsout-schedule`'s decision,
//! `lightsout-alb`, `lightsout-ec2`'s listing): this crate only reads arguments and draws.

mod alb;
mod check;
mod plan;
mod text;
mod timeline;

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use lightsout_schedule::{cadence, Settings};

/// Exit codes; the same table is in `--help`.
pub const EXIT_OK: u8 = 0;
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_AWS: u8 = 3;

const EXIT_CODES: &str = "\
Exit codes:
  0  done: the tags are valid / the plan was made and every instance's tags could be read /
     the ALB input is valid
  1  invalid: the tags do not parse (check), some instance has tags that cannot be read and
     would be skipped (plan: the table is still printed), the ALB input is invalid (alb plan)
  2  usage: bad arguments, an unreadable file or setting (SCHEDULE_TIMEZONE, SKIP_DATES,
     REGIONS, PAGE_SIZE), no region
  3  AWS: a region could not be listed (credentials, permissions, network); what could be
     listed is still printed";

/// A mistake in how the command was called: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

/// What a command ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Printed on stdout; exit 0.
    Ok(String),
    /// Printed on stderr; exit 1.
    Invalid(String),
    /// Printed on stderr; exit 2.
    Usage(Usage),
    /// A result with problems: `stdout`, then `stderr`, and `code`.
    Report {
        stdout: String,
        stderr: String,
        code: u8,
    },
}

#[derive(Debug, Parser)]
#[command(
    name = "lightsout",
    version,
    about = "Check lightsout schedule tags and see what the functions would do. Changes nothing.",
    after_help = EXIT_CODES,
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check DAY/TIME (and other) tags: valid or not, what they mean, the week as a timeline.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// What ec2-autostop would do now to every managed instance (DescribeInstances only).
    #[command(after_help = PLAN_HELP)]
    Plan(PlanArgs),
    /// The ALB working-hours workflow.
    Alb {
        #[command(subcommand)]
        command: AlbCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AlbCommand {
    /// What the state machine would do with an input document.
    #[command(after_help = ALB_PLAN_HELP)]
    Plan(AlbPlanArgs),
}

const CHECK_HELP: &str = "\
The tags are read exactly as ec2-autostop reads an instance's tags: invalid tags get the message
the function reports when it skips the instance. The default zone (no TZ tag) and stack-wide skip
dates come from SCHEDULE_TIMEZONE and SKIP_DATES, as in the function.

Examples:
  lightsout check 월-금 9~18
  lightsout check mon-fri 09:30~18:00 --tz Europe/Berlin
  lightsout check 22~2                         # one value: TIME, every day
  lightsout check --tags 'DAY=월-금,TIME=9~12,13~18,AUTOSTOP_MODE=stop-only'
  lightsout check 금 22~2 --at 2026-11-27T23:00:00+09:00 --ascii
  lightsout check mon-fri 09:30~18:00 --schedule 'cron(0 * * * ? *)'   # hourly: starts at 10:00

Exit codes: 0 valid, 1 invalid tags, 2 usage.";

const PLAN_HELP: &str = "\
Lists the instances tagged AUTOSTOP_ENABLE=true and decides for each with ec2-autostop's own code
and settings (SCHEDULE_TIMEZONE, SKIP_DATES, REGIONS, PAGE_SIZE from the environment), then prints
the decision. Only DescribeInstances is called: nothing is started or stopped, and the function's
dry run (which also asks EC2 to check the Start/Stop permissions) is not made either.

Credentials, region and endpoint come from the standard AWS settings: AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL (e.g. a local moto server), …

Examples:
  lightsout plan
  lightsout plan --region ap-northeast-2,us-east-1 --at 2026-11-25T20:00:00+09:00
  lightsout plan --json | jq '.instances[] | select(.action != \"leave\")'

Exit codes: 0 planned, 1 some instance's tags cannot be read (skipped), 2 usage, 3 AWS error.";

const ALB_PLAN_HELP: &str = "\
Validates the input as every state function does (the same messages), decides whether the ALB
should exist at the decision time (--at, else the input's `now`, else its `time`, else the clock)
and shows which states the state machine would run. If the input says whether the ALB and its
record exist (`albExists`, `recordExists`, as CheckExistingALB adds them) there is one answer;
otherwise one for each case. Nothing is called in AWS.

Without --input it lists every ALB tagged AUTOSTOP_ENABLE=true and every sleeping one (its
snapshot in --bucket, else SNAPSHOT_BUCKET), as the discovery step finds them, and says for each
what its run would do now (or --at), and which are left out and why. Only DescribeLoadBalancers,
DescribeTags, ListObjectsV2 and GetObject are called.

Examples:
  lightsout alb plan --input events/alb-input.json
  lightsout alb plan --input events/alb-input.json --at 2026-11-25T20:00:00+09:00 --json
  cat input.json | lightsout alb plan --input -
  lightsout alb plan --bucket my-stack-albsnapshotbucket-1a2b3c --at 2026-11-25T20:00:00+09:00

Exit codes: 0 valid input (or every tagged ALB planned), 1 invalid input (or some ALB left out),
2 usage (e.g. unreadable file), 3 AWS error.";

#[derive(Debug, Args)]
struct CheckArgs {
    /// The DAY tag, e.g. `월-금`, `mon-fri`, `weekends`. Given alone, the value is TIME.
    #[arg(value_name = "DAY")]
    day: Option<String>,
    /// The TIME tag, e.g. `9~18`, `09:30~18:00,22~2`.
    #[arg(value_name = "TIME")]
    time: Option<String>,
    /// The TZ tag (IANA zone). Without it: SCHEDULE_TIMEZONE, else Asia/Seoul.
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Tags as KEY=VALUE, comma-separated (a comma not followed by KEY= belongs to the value);
    /// may be repeated.
    #[arg(long, value_name = "KEY=VALUE,…")]
    tags: Vec<String>,
    /// Decide for this moment instead of now (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    at: Option<DateTime<Utc>>,
    /// Draw the timeline with ASCII characters only.
    #[arg(long)]
    ascii: bool,
    /// When ec2-autostop runs (the stack's ScheduleExpression, in SCHEDULE_TIMEZONE): the times
    /// it really acts are shown and compared with the tags'. Default: SCHEDULE_EXPRESSION, else
    /// the stack's default, every 15 minutes.
    #[arg(long, value_name = "EXPRESSION")]
    schedule: Option<String>,
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// Region to plan for; repeat or comma-separate. Default: REGIONS, else AWS_REGION.
    #[arg(long = "region", value_name = "REGION", value_delimiter = ',')]
    regions: Vec<String>,
    /// Decide for this moment instead of now (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    at: Option<DateTime<Utc>>,
    /// Zone for instances without a TZ tag. Default: SCHEDULE_TIMEZONE, else Asia/Seoul.
    #[arg(long, value_name = "ZONE")]
    default_tz: Option<String>,
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    json: bool,
    /// When ec2-autostop runs (the stack's ScheduleExpression, in SCHEDULE_TIMEZONE), for the
    /// NEXT column. Default: SCHEDULE_EXPRESSION, else the stack's default, every 15 minutes.
    #[arg(long, value_name = "EXPRESSION")]
    schedule: Option<String>,
}

#[derive(Debug, Args)]
struct AlbPlanArgs {
    /// The input document (JSON, as the state machine receives it); `-` reads stdin. Without it:
    /// every ALB that opts in by its tags, awake or asleep.
    #[arg(long, value_name = "FILE")]
    input: Option<String>,
    /// Without --input: the bucket of the ALB snapshots (the stack's AlbSnapshotBucketName
    /// output). Default: SNAPSHOT_BUCKET.
    #[arg(long, value_name = "BUCKET")]
    bucket: Option<String>,
    /// Without --input: the zone of an ALB without a TZ tag. Default: SCHEDULE_TIMEZONE, else
    /// Asia/Seoul.
    #[arg(long, value_name = "ZONE")]
    default_tz: Option<String>,
    /// Decide for this moment instead of the input's `now`/`time` (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    at: Option<DateTime<Utc>>,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
    /// Draw the timeline with ASCII characters only.
    #[arg(long)]
    ascii: bool,
}

fn parse_at(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("`{value}` is not an RFC 3339 time; expected e.g. 2026-11-25T20:00:00+09:00")
        })
}

/// The function's settings from the environment, reading only `names`, with `overrides` first.
fn settings(names: &[&str], overrides: &[(&str, Option<String>)]) -> Result<Settings, Usage> {
    Settings::from_lookup(|name| {
        if let Some((_, value)) = overrides.iter().find(|(n, v)| *n == name && v.is_some()) {
            return value.clone();
        }
        names
            .contains(&name)
            .then(|| std::env::var(name).ok())
            .flatten()
    })
    .map_err(|e| Usage(e.to_string()))
}

/// When the function runs: `--schedule`, else SCHEDULE_EXPRESSION, else the stack's default, in
/// the settings' zone (the stack's ScheduleTimezone).
fn schedule(given: Option<String>, settings: &Settings) -> Result<cadence::Cadence, Usage> {
    let expression = given
        .or_else(|| std::env::var("SCHEDULE_EXPRESSION").ok())
        .unwrap_or_else(|| cadence::DEFAULT_EXPRESSION.to_string());
    cadence::Cadence::parse(&expression, settings.default_zone)
        .map_err(|e| Usage(format!("--schedule: {e}")))
}

fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::Check(args) => {
            let settings = match settings(&["SCHEDULE_TIMEZONE", "SKIP_DATES"], &[]) {
                Ok(s) => s,
                Err(usage) => return Outcome::Usage(usage),
            };
            let tags = match check::collect_tags(
                args.day.as_deref(),
                args.time.as_deref(),
                args.tz.as_deref(),
                &args.tags,
            ) {
                Ok(tags) => tags,
                Err(usage) => return Outcome::Usage(usage),
            };
            let cadence = match schedule(args.schedule, &settings) {
                Ok(c) => c,
                Err(usage) => return Outcome::Usage(usage),
            };
            check::run(
                tags,
                &settings,
                &cadence,
                args.at.unwrap_or_else(Utc::now),
                args.ascii,
            )
        }
        Command::Plan(args) => {
            let overrides = [
                (
                    "REGIONS",
                    (!args.regions.is_empty()).then(|| args.regions.join(",")),
                ),
                ("SCHEDULE_TIMEZONE", args.default_tz.clone()),
            ];
            let names = ["SCHEDULE_TIMEZONE", "SKIP_DATES", "REGIONS", "PAGE_SIZE"];
            let settings = match settings(&names, &overrides) {
                Ok(s) => s,
                Err(usage) => return Outcome::Usage(usage),
            };
            let cadence = match schedule(args.schedule.clone(), &settings) {
                Ok(c) => c,
                Err(usage) => return Outcome::Usage(usage),
            };
            block_on(plan::run(
                &settings,
                &cadence,
                args.at.unwrap_or_else(Utc::now),
                args.json,
            ))
        }
        Command::Alb {
            command: AlbCommand::Plan(args),
        } => match &args.input {
            Some(input) => alb::run(input, args.at, Utc::now(), args.json, args.ascii),
            None => alb_plan_account(&args),
        },
    }
}

/// `alb plan` without `--input`: the bucket and zone from the arguments or the environment.
fn alb_plan_account(args: &AlbPlanArgs) -> Outcome {
    let Some(bucket) = args
        .bucket
        .clone()
        .or_else(|| std::env::var("SNAPSHOT_BUCKET").ok())
        .filter(|b| !b.trim().is_empty())
    else {
        return Outcome::Usage(Usage(
            "alb plan without --input lists the ALBs that opt in by tag and the sleeping ones in \
             the snapshot bucket: give --bucket (the stack's AlbSnapshotBucketName output) or set \
             SNAPSHOT_BUCKET; or give --input FILE"
                .into(),
        ));
    };
    let overrides = [("SCHEDULE_TIMEZONE", args.default_tz.clone())];
    let settings = match settings(&["SCHEDULE_TIMEZONE"], &overrides) {
        Ok(s) => s,
        Err(usage) => return Outcome::Usage(usage),
    };
    block_on(alb::run_account(
        bucket.trim(),
        settings.default_zone,
        args.at,
        Utc::now(),
        args.json,
    ))
}

/// Runs a command's AWS work on a runtime of its own (the CLI is synchronous elsewhere).
fn block_on(work: impl std::future::Future<Output = Outcome>) -> Outcome {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => Outcome::Usage(Usage(format!("cannot start: {e}"))),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (stdout, stderr, code) = match run(cli) {
        Outcome::Ok(out) => (out, String::new(), EXIT_OK),
        Outcome::Invalid(message) => (String::new(), message, EXIT_INVALID),
        Outcome::Usage(Usage(message)) => (String::new(), message, EXIT_USAGE),
        Outcome::Report {
            stdout,
            stderr,
            code,
        } => (stdout, stderr, code),
    };
    // A closed pipe (`lightsout plan | head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(stdout.as_bytes());
    let _ = std::io::stdout().flush();
    if !stderr.is_empty() {
        let mut err = std::io::stderr();
        for line in stderr.lines() {
            let _ = writeln!(err, "lightsout: {line}");
        }
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("lightsout").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn arguments() {
        let Command::Check(check) = parse(&["check", "월-금", "9~18", "--tz", "UTC", "--ascii"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(check.day.as_deref(), Some("월-금"));
        assert_eq!(check.time.as_deref(), Some("9~18"));
        assert!(check.ascii);
        let Command::Plan(plan) = parse(&[
            "plan",
            "--region",
            "ap-northeast-2,us-east-1",
            "--region",
            "eu-west-1",
            "--at",
            "2026-11-25T20:00:00+09:00",
            "--json",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        assert_eq!(plan.regions, ["ap-northeast-2", "us-east-1", "eu-west-1"]);
        assert_eq!(plan.at.unwrap().to_rfc3339(), "2026-11-25T11:00:00+00:00");
        assert!(plan.json);
        let alb = parse(&["alb", "plan", "--input", "x.json"]).unwrap();
        assert!(matches!(alb.command, Command::Alb { .. }));
    }

    #[test]
    fn usage_errors_exit_2() {
        for bad in [
            &["plan", "--at", "tomorrow"][..],
            &["check", "a", "b", "c"],
            &["alb", "plan", "--bucket"],
            &["frobnicate"],
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), i32::from(EXIT_USAGE), "{bad:?}");
        }
        let error = parse(&["check", "--at", "noon", "9~18"]).unwrap_err();
        assert!(error.to_string().contains("is not an RFC 3339 time"));
        // `alb plan` without --input needs the snapshot bucket (the sleeping ALBs are there).
        if std::env::var_os("SNAPSHOT_BUCKET").is_none() {
            let Command::Alb {
                command: AlbCommand::Plan(args),
            } = parse(&["alb", "plan"]).unwrap().command
            else {
                panic!()
            };
            let Outcome::Usage(Usage(message)) = alb_plan_account(&args) else {
                panic!("alb plan without a bucket is a usage error")
            };
            assert!(message.contains("give --bucket"), "{message}");
        }
    }

    #[test]
    fn help_documents_exit_codes_and_examples() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("Exit codes:") && help.contains("3  AWS"),
            "{help}"
        );
        let mut command = Cli::command();
        let check = command.find_subcommand_mut("check").unwrap();
        let help = check.render_long_help().to_string();
        assert!(help.contains("lightsout check 월-금 9~18"));
    }

    #[test]
    fn settings_overrides_and_errors() {
        let s = settings(
            &[],
            &[
                ("REGIONS", Some("us-east-1".into())),
                ("SCHEDULE_TIMEZONE", Some("utc".into())),
            ],
        )
        .unwrap();
        assert_eq!(s.regions, ["us-east-1"]);
        assert_eq!(s.default_zone, chrono_tz::Tz::UTC);
        let bad = settings(&[], &[("REGIONS", Some("Seoul".into()))]).unwrap_err();
        assert!(bad.0.starts_with("setting REGIONS: `Seoul` is invalid"));
    }
}
