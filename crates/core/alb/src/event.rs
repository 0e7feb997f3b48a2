//! The one JSON document that flows through every state of the ALB working-hours state machine.
//!
//! Every function validates the whole event before its first AWS call, then returns the same
//! document with its own fields added: fields it does not know are kept as they are. A field that
//! is a near miss of a known one (`timeZone`, `snapshotbucket`, `subnet`) is refused instead:
//! carried along unread, it would silently change what happens (no snapshot, the wrong zone).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use lightsout_schedule::event::{describe, kind, near_miss, shorten};
use lightsout_schedule::policy::{parse_dates, parse_zone, TAG_ENABLE, TAG_HIBERNATE, TAG_MODE};
use lightsout_schedule::settings::DEFAULT_ZONE;
use lightsout_schedule::{classify, Classification, Mode};
use lightsout_schedule::{DayError, DaySet, Schedule, Windows};

use crate::error::AlbError;

/// The fields the event contract reads; anything else is carried through untouched.
pub const FIELDS: [&str; 22] = [
    "albName",
    "tags",
    "startTime",
    "endTime",
    "subnets",
    "securityGroups",
    "hostedZoneId",
    "domainName",
    "targetGroups",
    "certificateArn",
    "albArn",
    "albDNSName",
    "albHostedZoneId",
    "days",
    "timezone",
    "holdUntil",
    "skipDates",
    "scheme",
    "ipAddressType",
    "snapshotBucket",
    "now",
    "time",
];

/// The fields an event with `tags` does not take: its schedule and its record come from the
/// tags.
pub const FROM_TAGS: [&str; 7] = [
    "startTime",
    "endTime",
    "days",
    "holdUntil",
    "skipDates",
    "hostedZoneId",
    "domainName",
];

/// The tag naming the DNS name of an ALB's alias record (`dev.example.com`); with
/// [`TAG_HOSTED_ZONE`], or neither: no record.
pub const TAG_DOMAIN: &str = "lightsout:domain";
/// The tag naming the Route 53 hosted zone of that record (`Z0123456789ABC`).
pub const TAG_HOSTED_ZONE: &str = "lightsout:hosted-zone";

/// The fields of one `targetGroups` entry.
pub const TARGET_GROUP_FIELDS: [&str; 4] = [
    "targetGroupArn",
    "listenerProtocol",
    "listenerPort",
    "certificateArn",
];

/// At most this many problems are listed in one message (a list of 10,000 bad entries would
/// otherwise make a message of megabytes); the rest are counted.
pub const SHOWN_PROBLEMS: usize = 10;

/// A listener's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `HTTP`.
    Http,
    /// `HTTPS`: the listener needs a certificate.
    Https,
}

impl Protocol {
    /// The name ELB uses: `HTTP` or `HTTPS`.
    pub fn as_aws(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
        }
    }
}

/// One entry of `targetGroups`: a listener on `port` forwarding to the target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupSpec {
    /// `targetGroupArn`: where the listener forwards.
    pub target_group_arn: String,
    /// `listenerProtocol`.
    pub protocol: Protocol,
    /// `listenerPort`: 1–65535, one listener per port.
    pub port: u16,
    /// The listener's certificate: the entry's own `certificateArn`, else the event's.
    pub certificate_arn: Option<String>,
}

/// Whether the ALB can be reached from the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `internet-facing` (the default).
    InternetFacing,
    /// `internal`: reachable only from inside its VPC.
    Internal,
}

impl Scheme {
    /// The name ELB uses: `internet-facing` or `internal`.
    pub fn as_aws(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }
}

/// The ALB's IP address type, which decides its alias records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpAddressType {
    /// `ipv4` (the default): an A record.
    Ipv4,
    /// `dualstack`: an A and an AAAA record.
    Dualstack,
}

impl IpAddressType {
    /// The name ELB uses: `ipv4` or `dualstack`.
    pub fn as_aws(self) -> &'static str {
        match self {
            IpAddressType::Ipv4 => "ipv4",
            IpAddressType::Dualstack => "dualstack",
        }
    }
}

/// Where the decision time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    /// The event's `now`.
    Now,
    /// The event's `time`: the scheduled time.
    ScheduledTime,
    /// Neither: the function's clock.
    Clock,
}

/// An ALB's DNS alias record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    /// The hosted zone, without any `/hostedzone/` prefix.
    pub hosted_zone_id: String,
    /// Lower case, with the trailing dot Route 53 uses.
    pub domain_name: String,
}

/// When the ALB should exist, and its record: from the event's fields or from its tags.
struct Plan {
    schedule: Schedule,
    hold_until: Option<DateTime<FixedOffset>>,
    skip_dates: BTreeSet<NaiveDate>,
    record: Option<AliasRecord>,
}

/// The validated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbEvent {
    /// `albName`: 1–32 letters, digits and hyphens.
    pub alb_name: String,
    /// `days`, `startTime`/`endTime` and `timezone`: when the ALB should exist.
    pub schedule: Schedule,
    /// `holdUntil`: the ALB should exist until then, whatever the schedule says.
    pub hold_until: Option<DateTime<FixedOffset>>,
    /// `skipDates`: local dates on which the ALB should not exist.
    pub skip_dates: BTreeSet<NaiveDate>,
    /// `subnets`: at least two, blank entries dropped.
    pub subnets: Vec<String>,
    /// `securityGroups`: empty for the VPC's default security group.
    pub security_groups: Vec<String>,
    /// `hostedZoneId` and `domainName`, or from the tags `lightsout:hosted-zone` and
    /// `lightsout:domain`: the ALB's alias record. `None` only from tags without them: the ALB is
    /// scheduled without a record.
    pub record: Option<AliasRecord>,
    /// `tags`: the ALB's own tags, when the event was made from them (by the discovery step). The
    /// schedule and the record were read from them.
    pub tags: Option<BTreeMap<String, String>>,
    /// `targetGroups`: one listener each. From tags: usually none (the listeners come from the ALB
    /// and its snapshot).
    pub target_groups: Vec<TargetGroupSpec>,
    /// `certificateArn`: for HTTPS listeners whose entry has no certificate of its own.
    pub certificate_arn: Option<String>,
    /// `albArn`: set by an earlier step.
    pub alb_arn: Option<String>,
    /// `albDNSName`, lower case: set by an earlier step; tells this ALB's records from others.
    pub alb_dns_name: Option<String>,
    /// `albHostedZoneId`: the hosted zone of the ALB's DNS name, set by an earlier step.
    pub alb_hosted_zone_id: Option<String>,
    /// `scheme`; [`Scheme::InternetFacing`] when absent.
    pub scheme: Scheme,
    /// `ipAddressType`; [`IpAddressType::Ipv4`] when absent.
    pub ip_address_type: IpAddressType,
    /// `snapshotBucket`: where the snapshot is saved and restored from; `None`: no snapshot.
    pub snapshot_bucket: Option<String>,
    /// The instant the schedule is read at: `now`, else `time`, else the clock.
    pub decision_time: DateTime<Utc>,
    /// Which of the three it was.
    pub time_source: TimeSource,
}

impl AlbEvent {
    /// Validates the whole event. All problems are reported at once, each naming its field.
    pub fn parse(event: &Value, clock: DateTime<Utc>) -> Result<AlbEvent, AlbError> {
        let Value::Object(map) = event else {
            return Err(AlbError::invalid(format!(
                "event: expected a JSON object, got {}",
                kind(event)
            )));
        };
        let mut f = Fields {
            map,
            problems: Vec::new(),
        };
        f.near_misses("", &FIELDS);
        let alb_name = f.alb_name();
        let tags = f.tags();
        // `tags: null` is absent, as every null field is.
        let plan = match (&tags, f.get("tags").is_some()) {
            (Some(tags), _) => f.plan_from_tags(tags),
            // `tags` that are no object of strings: named, and no schedule fields asked for.
            (None, true) => None,
            (None, false) => f.plan_from_fields(),
        };
        let subnets = f.string_list("subnets", 2);
        let security_groups = f.string_list("securityGroups", 0);
        let certificate_arn =
            f.optional_arn("certificateArn", &[":certificate/", ":server-certificate/"]);
        let target_groups = match (&tags, f.get("targetGroups")) {
            (Some(_), None) => Some(Vec::new()),
            _ => f.target_groups(certificate_arn.as_deref()),
        };
        let alb_arn = f.optional_arn("albArn", &[":loadbalancer/app/"]);
        let alb_dns_name = f
            .optional_string("albDNSName")
            .map(|d| d.to_ascii_lowercase());
        let alb_hosted_zone_id = f.optional_string("albHostedZoneId");
        let scheme = f.choice(
            "scheme",
            &[
                ("internet-facing", Scheme::InternetFacing),
                ("internal", Scheme::Internal),
            ],
            Scheme::InternetFacing,
        );
        let ip_address_type = f.choice(
            "ipAddressType",
            &[
                ("ipv4", IpAddressType::Ipv4),
                ("dualstack", IpAddressType::Dualstack),
            ],
            IpAddressType::Ipv4,
        );
        let snapshot_bucket = f.bucket();
        let now = f.instant("now");
        let scheduled = f.instant("time");
        if !f.problems.is_empty() {
            let mut listed = f.problems[..f.problems.len().min(SHOWN_PROBLEMS)].join("; ");
            if f.problems.len() > SHOWN_PROBLEMS {
                listed += &format!("; and {} more", f.problems.len() - SHOWN_PROBLEMS);
            }
            return Err(AlbError::invalid(format!("invalid input: {listed}")));
        }
        let (decision_time, time_source) = match (now, scheduled) {
            (Some(n), _) => (n.with_timezone(&Utc), TimeSource::Now),
            (None, Some(t)) => (t.with_timezone(&Utc), TimeSource::ScheduledTime),
            (None, None) => (clock, TimeSource::Clock),
        };
        // A `None` below added a problem above, so these are unreachable.
        let (Some(alb_name), Some(plan), Some(subnets), Some(security_groups), Some(target_groups)) =
            (alb_name, plan, subnets, security_groups, target_groups)
        else {
            return Err(AlbError::invalid("invalid input"));
        };
        Ok(AlbEvent {
            alb_name,
            schedule: plan.schedule,
            hold_until: plan.hold_until,
            skip_dates: plan.skip_dates,
            subnets,
            security_groups,
            record: plan.record,
            tags,
            target_groups,
            certificate_arn,
            alb_arn,
            alb_dns_name,
            alb_hosted_zone_id,
            scheme,
            ip_address_type,
            snapshot_bucket,
            decision_time,
            time_source,
        })
    }
}

/// Reads fields of the event, collecting every problem instead of stopping at the first.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    problems: Vec<String>,
}

impl Fields<'_> {
    fn problem(&mut self, field: &str, expected: &str, got: Option<&Value>) {
        let got = got.map_or("nothing".to_string(), describe);
        self.problems
            .push(format!("{field}: expected {expected}, got {got}"));
    }

    /// Refuses keys that are near misses of `known` (`prefix` names where they are).
    fn near_misses(&mut self, prefix: &str, known: &[&str]) {
        let misses: Vec<String> = self
            .map
            .keys()
            .filter_map(|key| {
                near_miss(key, known).map(|name| {
                    format!(
                        "{prefix}{}: not a field; did you mean {name}? (refused rather than carried \
                         along unread: a misspelt field would change what happens)",
                        shorten(key)
                    )
                })
            })
            .collect();
        self.problems.extend(misses);
    }

    /// A present, non-null value.
    fn get(&self, field: &str) -> Option<&Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn required_string(&mut self, field: &str, expected: &str) -> Option<String> {
        match self.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            other => {
                let other = other.cloned();
                self.problem(field, expected, other.as_ref());
                None
            }
        }
    }

    /// Absent, null and "" all mean "not given" (existing inputs send "" for unknown ALB fields).
    fn optional_string(&mut self, field: &str) -> Option<String> {
        match self.get(field) {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(other) => {
                let other = other.clone();
                self.problem(field, "a string", Some(&other));
                None
            }
        }
    }

    fn optional_arn(&mut self, field: &str, kinds: &[&str]) -> Option<String> {
        let arn = self.optional_string(field)?;
        if is_arn(&arn, kinds) {
            return Some(arn);
        }
        self.problem(
            field,
            &format!("an ARN containing {}", kinds.join(" or ")),
            Some(&Value::String(arn)),
        );
        None
    }

    /// The schedule and the record from the event's own fields, as the single-ALB input has them.
    fn plan_from_fields(&mut self) -> Option<Plan> {
        let windows = self.window();
        let days = self.days();
        let zone = self.zone();
        let hold_until = self.instant("holdUntil");
        let skip_dates = self.skip_dates();
        let hosted_zone_id = self.hosted_zone_id();
        let domain_name = self.domain_name();
        Some(Plan {
            schedule: Schedule {
                // An invalid `days` or `timezone` added a problem: the defaults are never used then.
                days: days.unwrap_or(DaySet::EVERY_DAY),
                windows: windows?,
                zone: zone.unwrap_or(DEFAULT_ZONE),
            },
            hold_until,
            skip_dates: skip_dates?,
            record: Some(AliasRecord {
                hosted_zone_id: hosted_zone_id?,
                domain_name: domain_name?,
            }),
        })
    }

    /// `tags`: the ALB's tags, an object of strings.
    fn tags(&mut self) -> Option<BTreeMap<String, String>> {
        let value = self.get("tags")?.clone();
        let tags = value.as_object().and_then(|map| {
            map.iter()
                .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect::<Option<BTreeMap<_, _>>>()
        });
        if tags.is_none() {
            self.problem("tags", "an object of tag values (strings)", Some(&value));
        }
        tags
    }

    /// The schedule and the record from the ALB's tags, read as an instance's are
    /// (`lightsout_schedule::classify`): `timezone`, if given, is the zone for an ALB without a
    /// `TZ` tag.
    fn plan_from_tags(&mut self, tags: &BTreeMap<String, String>) -> Option<Plan> {
        for field in FROM_TAGS {
            if self.map.contains_key(field) {
                self.problems.push(format!(
                    "{field}: not taken with tags (the ALB's schedule and record come from its tags); \
                     remove one of them"
                ));
            }
        }
        let default_zone = self.zone().unwrap_or(DEFAULT_ZONE);
        let policy = match classify(tags, default_zone) {
            Classification::Managed(policy) if policy.mode == Mode::Both && !policy.hibernate => {
                Some(*policy)
            }
            Classification::Managed(_) => {
                self.problems.push(format!(
                    "tags: {TAG_MODE} and {TAG_HIBERNATE} are for instances; a load balancer with \
                     them is left alone (remove them, or set {TAG_MODE}=both)"
                ));
                None
            }
            Classification::Invalid(error) => {
                self.problems.push(format!("tags: {error}"));
                None
            }
            Classification::Unmanaged | Classification::AutoScaling(_) => {
                self.problems.push(format!(
                    "tags: {TAG_ENABLE} is not `true`: the workflow does not touch this load balancer"
                ));
                None
            }
        };
        let record = self.record_from_tags(tags);
        let policy = policy?;
        Some(Plan {
            schedule: policy.schedule,
            hold_until: policy.hold_until,
            skip_dates: policy.skip_dates,
            record: record?,
        })
    }

    /// `lightsout:hosted-zone` and `lightsout:domain`: both (the record) or neither (none).
    fn record_from_tags(&mut self, tags: &BTreeMap<String, String>) -> Option<Option<AliasRecord>> {
        match (tags.get(TAG_HOSTED_ZONE), tags.get(TAG_DOMAIN)) {
            (None, None) => Some(None),
            (Some(zone), Some(domain)) => {
                let hosted_zone_id = bare_zone_id(zone);
                if hosted_zone_id.is_none() {
                    self.problems.push(format!(
                        "tags: {TAG_HOSTED_ZONE}: expected {ZONE_EXPECTED}, got \"{}\"",
                        shorten(zone)
                    ));
                }
                let domain_name = dotted_domain(domain);
                if domain_name.is_none() {
                    self.problems.push(format!(
                        "tags: {TAG_DOMAIN}: expected {DOMAIN_EXPECTED}, got \"{}\"",
                        shorten(domain)
                    ));
                }
                Some(Some(AliasRecord {
                    hosted_zone_id: hosted_zone_id?,
                    domain_name: domain_name?,
                }))
            }
            (Some(_), None) | (None, Some(_)) => {
                self.problems.push(format!(
                    "tags: {TAG_HOSTED_ZONE} and {TAG_DOMAIN} go together: give both (the ALB's \
                     alias record) or neither (no record)"
                ));
                None
            }
        }
    }

    fn alb_name(&mut self) -> Option<String> {
        let expected = "a load balancer name: 1-32 letters, digits and hyphens, not starting or ending with a hyphen";
        let name = self.required_string("albName", expected)?;
        let valid = name.len() <= 32
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.starts_with("internal-");
        if valid {
            return Some(name);
        }
        self.problem("albName", expected, Some(&Value::String(name)));
        None
    }

    /// `startTime`/`endTime`: whole hours (as numbers or strings) or "HH:MM", as in the TIME tag.
    /// One time each: `"9~18,20"` would otherwise make several windows of the TIME grammar.
    fn time_of_day(&mut self, field: &str) -> Option<String> {
        let expected = "an hour 0-23 or \"HH:MM\"";
        let one_time = |s: &str| !s.contains(['~', '-', '～', '〜', ',']);
        match self.get(field) {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|h| h < 24) => Some(n.to_string()),
            Some(Value::String(s)) if !s.trim().is_empty() && one_time(s) => {
                Some(s.trim().to_string())
            }
            other => {
                let other = other.cloned();
                self.problem(field, expected, other.as_ref());
                None
            }
        }
    }

    fn window(&mut self) -> Option<Windows> {
        let start = self.time_of_day("startTime");
        let end = self.time_of_day("endTime");
        let text = format!("{}~{}", start?, end?);
        match Windows::parse(&text) {
            Ok(w) => Some(w),
            Err(e) => {
                self.problems.push(format!(
                    "startTime/endTime: `{}` is not a working window ({}); expected hours 0-23 or \"HH:MM\"",
                    shorten(&text),
                    e.to_string().trim_start_matches("TIME: ")
                ));
                None
            }
        }
    }

    fn days(&mut self) -> Option<DaySet> {
        let expected = "days such as \"mon-fri\" or [\"월\", \"수\"]";
        let given = self.get("days")?.clone();
        let text = match &given {
            Value::String(s) => s.clone(),
            Value::Array(items) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            other => {
                self.problem("days", expected, Some(other));
                return None;
            }
        };
        match DaySet::parse(&text) {
            Ok(d) => Some(d),
            Err(DayError::Empty) => {
                self.problem("days", expected, Some(&given));
                None
            }
            Err(e) => {
                self.problems.push(format!(
                    "days: {}",
                    e.to_string().trim_start_matches("DAY: ")
                ));
                None
            }
        }
    }

    fn zone(&mut self) -> Option<Tz> {
        let name = self.optional_string("timezone")?;
        let zone = parse_zone(&name);
        if zone.is_none() {
            self.problem(
                "timezone",
                "an IANA time zone such as Asia/Seoul",
                Some(&Value::String(name)),
            );
        }
        zone
    }

    fn instant(&mut self, field: &str) -> Option<DateTime<FixedOffset>> {
        let value = self.get(field)?.clone();
        match value.as_str().map(str::trim) {
            Some("") => None,
            Some(s) => DateTime::parse_from_rfc3339(s).ok().or_else(|| {
                self.problem(
                    field,
                    "an RFC 3339 time such as 2026-11-25T09:00:00+09:00",
                    Some(&value),
                );
                None
            }),
            None => {
                self.problem(field, "an RFC 3339 time string", Some(&value));
                None
            }
        }
    }

    fn skip_dates(&mut self) -> Option<BTreeSet<NaiveDate>> {
        let text = match self.get("skipDates") {
            None => return Some(BTreeSet::new()),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            Some(other) => {
                let other = other.clone();
                self.problem(
                    "skipDates",
                    "dates YYYY-MM-DD, as a list or comma-separated",
                    Some(&other),
                );
                return None;
            }
        };
        parse_dates(&text)
            .map_err(|bad| {
                self.problems.push(format!(
                    "skipDates: expected dates YYYY-MM-DD, got \"{bad}\""
                ))
            })
            .ok()
    }

    fn string_list(&mut self, field: &str, at_least: usize) -> Option<Vec<String>> {
        let expected = match at_least {
            0 => "a list of ids".to_string(),
            n => format!("a list of at least {n} ids"),
        };
        // Blank entries are dropped: a template that joins an empty parameter list sends [""].
        let ids = |items: &Vec<Value>| -> Vec<String> {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        match self.get(field) {
            None if at_least == 0 => Some(vec![]),
            Some(Value::Array(items))
                if items.iter().all(Value::is_string) && ids(items).len() >= at_least =>
            {
                Some(ids(items))
            }
            other => {
                let other = other.cloned();
                self.problem(field, &expected, other.as_ref());
                None
            }
        }
    }

    fn hosted_zone_id(&mut self) -> Option<String> {
        let id = self.required_string("hostedZoneId", ZONE_EXPECTED)?;
        let bare = bare_zone_id(&id);
        if bare.is_none() {
            self.problem("hostedZoneId", ZONE_EXPECTED, Some(&Value::String(id)));
        }
        bare
    }

    fn domain_name(&mut self) -> Option<String> {
        let name = self.required_string("domainName", DOMAIN_EXPECTED)?;
        let dotted = dotted_domain(&name);
        if dotted.is_none() {
            self.problem(
                "domainName",
                DOMAIN_EXPECTED,
                Some(&Value::String(name.to_ascii_lowercase())),
            );
        }
        dotted
    }

    fn target_groups(&mut self, default_certificate: Option<&str>) -> Option<Vec<TargetGroupSpec>> {
        let items = match self.get("targetGroups") {
            Some(Value::Array(items)) if !items.is_empty() => items.clone(),
            other => {
                let other = other.cloned();
                self.problem(
                    "targetGroups",
                    "a list of at least one {targetGroupArn, listenerProtocol, listenerPort}",
                    other.as_ref(),
                );
                return None;
            }
        };
        let mut specs = Vec::new();
        let mut ports = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("targetGroups[{i}]");
            let Value::Object(entry) = item else {
                self.problem(&field, "an object", Some(item));
                continue;
            };
            let mut inner = Fields {
                map: entry,
                problems: Vec::new(),
            };
            inner.near_misses("", &TARGET_GROUP_FIELDS);
            let arn = inner.required_string("targetGroupArn", "a target group ARN");
            let arn = arn.filter(|a| is_arn(a, &[":targetgroup/"])).or_else(|| {
                if inner.problems.is_empty() {
                    inner.problem(
                        "targetGroupArn",
                        "a target group ARN (arn:…:targetgroup/…)",
                        entry.get("targetGroupArn"),
                    );
                }
                None
            });
            let protocol = match entry
                .get("listenerProtocol")
                .and_then(Value::as_str)
                .map(str::to_ascii_uppercase)
            {
                Some(p) if p == "HTTP" => Some(Protocol::Http),
                Some(p) if p == "HTTPS" => Some(Protocol::Https),
                _ => {
                    inner.problem(
                        "listenerProtocol",
                        "HTTP or HTTPS",
                        entry.get("listenerProtocol"),
                    );
                    None
                }
            };
            let port = match entry.get("listenerPort") {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
                _ => None,
            }
            .filter(|p| (1..=65535).contains(p))
            .map(|p| p as u16);
            if port.is_none() {
                inner.problem("listenerPort", "a port 1-65535", entry.get("listenerPort"));
            }
            let own_certificate =
                inner.optional_arn("certificateArn", &[":certificate/", ":server-certificate/"]);
            let certificate = own_certificate.or_else(|| default_certificate.map(str::to_string));
            if protocol == Some(Protocol::Https)
                && certificate.is_none()
                && inner.problems.is_empty()
            {
                inner.problems.push(format!(
                    "an HTTPS listener needs a certificate: set {field}.certificateArn or certificateArn"
                ));
            }
            if let Some(p) = port {
                if !ports.insert(p) {
                    inner.problems.push(format!("listenerPort {p} is used by an earlier target group; one listener per port"));
                }
            }
            for problem in inner.problems {
                self.problems.push(if problem.starts_with("an HTTPS") {
                    problem
                } else {
                    format!("{field}.{problem}")
                });
            }
            if let (Some(target_group_arn), Some(protocol), Some(port)) = (arn, protocol, port) {
                specs.push(TargetGroupSpec {
                    target_group_arn,
                    protocol,
                    port,
                    certificate_arn: certificate,
                });
            }
        }
        Some(specs)
    }

    fn choice<T: Copy>(&mut self, field: &str, options: &[(&str, T)], default: T) -> T {
        let Some(value) = self.optional_string(field) else {
            return default;
        };
        if let Some((_, v)) = options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&value))
        {
            return *v;
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        self.problem(field, &names.join(" or "), Some(&Value::String(value)));
        default
    }

    fn bucket(&mut self) -> Option<String> {
        let name = self.optional_string("snapshotBucket")?;
        let valid = (3..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && name.as_bytes()[0].is_ascii_alphanumeric()
            && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
        if valid {
            return Some(name);
        }
        self.problem(
            "snapshotBucket",
            "an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)",
            Some(&Value::String(name)),
        );
        None
    }
}

const ZONE_EXPECTED: &str = "a Route 53 hosted zone id such as Z0123456789ABC";
const DOMAIN_EXPECTED: &str = "a domain name such as dev.example.com";

/// A hosted zone id without any `/hostedzone/` prefix: at most 32 upper-case letters and digits.
fn bare_zone_id(id: &str) -> Option<String> {
    let bare = id.trim_start_matches("/hostedzone/");
    let valid = (1..=32).contains(&bare.len())
        && bare
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    valid.then(|| bare.to_string())
}

/// A domain name, lower case, with the trailing dot Route 53 uses.
fn dotted_domain(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let bare = name.trim_end_matches('.');
    let valid = bare.len() <= 253
        && bare.contains('.')
        && bare.split('.').enumerate().all(|(i, label)| {
            !label.is_empty()
                && label.len() <= 63
                && (label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    || (i == 0 && label == "*"))
        });
    valid.then(|| format!("{bare}."))
}

/// An ARN of one of these kinds (`:targetgroup/`, …), at most 2,048 characters as AWS allows.
fn is_arn(text: &str, kinds: &[&str]) -> bool {
    text.len() <= 2048 && text.starts_with("arn:") && kinds.iter().any(|k| text.contains(k))
}

/// Sets `key` in the event (the functions' way of enriching it).
pub fn set(event: &mut Value, key: &str, value: impl Into<Value>) {
    if let Value::Object(map) = event {
        map.insert(key.to_string(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An input exactly as existing users send it: empty strings for the ALB fields, integer hours.
    pub fn legacy_input() -> Value {
        json!({
            "albName": "dev-alb",
            "startTime": 9,
            "endTime": 18,
            "subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "hostedZoneId": "Z0123456789ABCDEFGHIJ",
            "domainName": "dev.example.com",
            "targetGroups": [
                {"targetGroupArn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/web/0123456789abcdef", "listenerProtocol": "HTTP", "listenerPort": 80},
                {"targetGroupArn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/web/0123456789abcdef", "listenerProtocol": "HTTPS", "listenerPort": 443}
            ],
            "certificateArn": "arn:aws:acm:ap-northeast-2:123456789012:certificate/11111111-2222-3333-4444-555555555555",
            "albArn": "",
            "albDNSName": "",
            "albHostedZoneId": ""
        })
    }

    fn clock() -> DateTime<Utc> {
        "2026-11-25T00:00:00Z".parse().unwrap()
    }

    fn parse(v: &Value) -> Result<AlbEvent, AlbError> {
        AlbEvent::parse(v, clock())
    }

    fn error(v: Value) -> String {
        let e = parse(&v).unwrap_err();
        assert_eq!(e.error_type(), "InvalidInput");
        e.message
    }

    fn with(changes: Value) -> Value {
        let mut v = legacy_input();
        for (k, val) in changes.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        v
    }

    #[test]
    fn legacy_input_accepted_as_is() {
        let e = parse(&legacy_input()).unwrap();
        assert_eq!(e.alb_name, "dev-alb");
        assert_eq!(e.schedule.windows.to_string(), "09:00–18:59");
        assert_eq!(e.schedule.days, DaySet::EVERY_DAY);
        assert_eq!(e.schedule.zone, Tz::Asia__Seoul);
        assert_eq!(
            e.record,
            Some(AliasRecord {
                hosted_zone_id: "Z0123456789ABCDEFGHIJ".into(),
                domain_name: "dev.example.com.".into()
            })
        );
        assert_eq!(e.tags, None);
        assert_eq!(e.target_groups.len(), 2);
        assert_eq!(e.target_groups[1].protocol, Protocol::Https);
        assert!(e.target_groups[1]
            .certificate_arn
            .as_deref()
            .unwrap()
            .ends_with("555555555555"));
        assert_eq!(
            e.target_groups[0].certificate_arn.as_deref(),
            e.certificate_arn.as_deref()
        );
        assert!(e.alb_arn.is_none() && e.alb_dns_name.is_none() && e.alb_hosted_zone_id.is_none());
        assert_eq!(
            (e.scheme, e.ip_address_type),
            (Scheme::InternetFacing, IpAddressType::Ipv4)
        );
        assert_eq!(
            (e.decision_time, e.time_source),
            (clock(), TimeSource::Clock)
        );
    }

    #[test]
    fn new_optional_fields() {
        let e = parse(&with(json!({
            "startTime": "09:30", "endTime": "18:00", "days": "월-금", "timezone": "Europe/Berlin",
            "holdUntil": "2026-11-25T23:00:00+09:00", "skipDates": ["2026-12-25"], "scheme": "internal",
            "ipAddressType": "dualstack", "snapshotBucket": "my-alb-snapshots", "now": "2026-11-25T10:00:00+09:00",
            "time": "2026-11-25T00:00:00Z", "hostedZoneId": "/hostedzone/ZABC", "domainName": "Dev.Example.com."
        })))
        .unwrap();
        assert_eq!(e.schedule.windows.to_string(), "09:30–17:59");
        assert_eq!(e.schedule.days, DaySet::WEEKDAYS);
        assert_eq!(e.schedule.zone, Tz::Europe__Berlin);
        assert!(e.hold_until.is_some());
        assert_eq!(e.skip_dates.len(), 1);
        assert_eq!(
            (e.scheme, e.ip_address_type),
            (Scheme::Internal, IpAddressType::Dualstack)
        );
        assert_eq!(e.snapshot_bucket.as_deref(), Some("my-alb-snapshots"));
        assert_eq!(e.time_source, TimeSource::Now);
        assert_eq!(e.decision_time.to_rfc3339(), "2026-11-25T01:00:00+00:00");
        let record = e.record.unwrap();
        assert_eq!(record.hosted_zone_id, "ZABC");
        assert_eq!(record.domain_name, "dev.example.com.");
        let scheduled = parse(&with(json!({"time": "2026-11-25T00:00:00Z"}))).unwrap();
        assert_eq!(scheduled.time_source, TimeSource::ScheduledTime);
        let wraps = parse(&with(json!({"startTime": 22, "endTime": "2"}))).unwrap();
        assert_eq!(wraps.schedule.windows.to_string(), "22:00–02:59 (next day)");
    }

    /// A per-ALB event as the discovery step makes it: the ALB's tags, its subnets, no schedule
    /// fields and no target groups.
    fn from_tags(tags: Value) -> Value {
        json!({
            "albName": "dev-alb",
            "tags": tags,
            "subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "scheme": "internal",
            "snapshotBucket": "my-alb-snapshots",
            "time": "2026-11-25T00:00:00Z"
        })
    }

    #[test]
    fn the_schedule_and_the_record_come_from_the_albs_tags() {
        let e = parse(&from_tags(json!({
            "AUTOSTOP_ENABLE": "True", "DAY": "mon-fri", "TIME": "9-12 13:00-18:00",
            "TZ": "Europe/Berlin", "AUTOSTOP_SKIP_DATES": "2026-12-24 2026-12-31",
            "AUTOSTOP_HOLD_UNTIL": "2026-11-25T23:00:00+09:00",
            "lightsout:domain": "Dev.Example.com", "lightsout:hosted-zone": "/hostedzone/ZABC",
            "Name": "dev"
        })))
        .unwrap();
        assert_eq!(e.schedule.windows.to_string(), "09:00–12:59, 13:00–17:59");
        assert_eq!(e.schedule.days, DaySet::WEEKDAYS);
        assert_eq!(e.schedule.zone, Tz::Europe__Berlin);
        assert_eq!(e.skip_dates.len(), 2);
        assert!(e.hold_until.is_some());
        assert_eq!(
            e.record,
            Some(AliasRecord {
                hosted_zone_id: "ZABC".into(),
                domain_name: "dev.example.com.".into()
            })
        );
        assert!(e.target_groups.is_empty());
        assert_eq!(e.scheme, Scheme::Internal);
        assert_eq!(e.tags.as_ref().unwrap()["Name"], "dev");
    }

    #[test]
    fn without_record_tags_the_alb_has_no_record_and_timezone_is_the_default_zone() {
        let mut v = from_tags(json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-18"}));
        v["timezone"] = json!("America/New_York");
        let e = parse(&v).unwrap();
        assert_eq!(e.record, None);
        assert_eq!(e.schedule.zone, Tz::America__New_York);
        assert_eq!(e.schedule.days, DaySet::EVERY_DAY);
    }

    #[test]
    fn tags_that_cannot_be_read_are_named() {
        let msg = error(from_tags(
            json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-25"}),
        ));
        assert!(
            msg.starts_with("invalid input: tags: TIME: `25` in `9-25` is not a time"),
            "{msg}"
        );
        let msg = error(from_tags(
            json!({"AUTOSTOP_ENABLE": "false", "TIME": "9-18"}),
        ));
        assert!(msg.contains("tags: AUTOSTOP_ENABLE is not `true`"), "{msg}");
        let msg = error(from_tags(json!({"AUTOSTOP_ENABLE": "true"})));
        assert!(msg.contains("tags: TIME"), "{msg}");
        let msg = error(from_tags(
            json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-18", "AUTOSTOP_MODE": "start-only"}),
        ));
        assert!(
            msg.contains("tags: AUTOSTOP_MODE and AUTOSTOP_HIBERNATE are for instances"),
            "{msg}"
        );
        let msg = error(from_tags(
            json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-18", "lightsout:domain": "dev.example.com"}),
        ));
        assert!(
            msg.contains("lightsout:hosted-zone and lightsout:domain go together"),
            "{msg}"
        );
        let msg = error(from_tags(json!({
            "AUTOSTOP_ENABLE": "true", "TIME": "9-18",
            "lightsout:domain": "not a domain", "lightsout:hosted-zone": "zone?"
        })));
        assert!(
            msg.contains("tags: lightsout:hosted-zone: expected a Route 53 hosted zone id"),
            "{msg}"
        );
        assert!(
            msg.contains("tags: lightsout:domain: expected a domain name"),
            "{msg}"
        );
        let msg = error(json!({"albName": "dev-alb", "tags": ["AUTOSTOP_ENABLE"]}));
        assert!(
            msg.contains("tags: expected an object of tag values (strings), got"),
            "{msg}"
        );
        assert!(
            !msg.contains("startTime"),
            "no schedule fields are asked for beside tags: {msg}"
        );
        let msg = error(json!({"albName": "dev-alb", "tags": {"AUTOSTOP_ENABLE": true}}));
        assert!(
            msg.contains("tags: expected an object of tag values"),
            "{msg}"
        );
    }

    #[test]
    fn null_tags_are_absent_tags() {
        let mut v = legacy_input();
        v["tags"] = Value::Null;
        let e = parse(&v).expect("the single-ALB input with tags: null");
        assert_eq!(e.tags, None);
        v.as_object_mut().unwrap().remove("startTime");
        assert!(
            error(v).contains("startTime"),
            "the schedule fields are asked for"
        );
    }

    #[test]
    fn tags_and_schedule_fields_are_not_mixed() {
        let mut v = from_tags(json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-18"}));
        v["startTime"] = json!(9);
        v["domainName"] = json!("dev.example.com");
        let msg = error(v);
        assert!(msg.contains("startTime: not taken with tags"), "{msg}");
        assert!(msg.contains("domainName: not taken with tags"), "{msg}");
        // Subnets are still needed: an ALB is made in them.
        let mut v = from_tags(json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-18"}));
        v.as_object_mut().unwrap().remove("subnets");
        assert!(error(v).contains("subnets: expected a list of at least 2 ids"));
    }

    #[test]
    fn https_without_any_certificate_is_named() {
        let msg = error(with(json!({"certificateArn": ""})));
        assert_eq!(
            msg,
            "invalid input: an HTTPS listener needs a certificate: set targetGroups[1].certificateArn or certificateArn"
        );
    }

    #[test]
    fn every_problem_named_at_once() {
        let msg = error(
            json!({"albName": "-bad", "startTime": 25, "subnets": ["subnet-1"], "targetGroups": []}),
        );
        for expected in [
            "albName: expected a load balancer name",
            "startTime: expected an hour 0-23 or \"HH:MM\", got 25",
            "endTime: expected an hour 0-23 or \"HH:MM\", got nothing",
            "subnets: expected a list of at least 2 ids, got an array of 1",
            "hostedZoneId: expected a Route 53 hosted zone id",
            "domainName: expected a domain name",
            "targetGroups: expected a list of at least one",
        ] {
            assert!(msg.contains(expected), "missing `{expected}` in: {msg}");
        }
    }

    #[test]
    fn field_level_problems() {
        let cases = [
            (
                json!({"startTime": "9am"}),
                "startTime/endTime: `9am~18` is not a working window",
            ),
            (json!({"days": "someday"}), "days: `someday` is not a day"),
            (json!({"days": 5}), "days: expected days such as"),
            (
                json!({"timezone": "Mars/Base"}),
                "timezone: expected an IANA time zone such as Asia/Seoul, got \"Mars/Base\"",
            ),
            (
                json!({"holdUntil": "tonight"}),
                "holdUntil: expected an RFC 3339 time",
            ),
            (
                json!({"skipDates": "12/25"}),
                "skipDates: expected dates YYYY-MM-DD, got \"12/25\"",
            ),
            (
                json!({"scheme": "public"}),
                "scheme: expected internet-facing or internal, got \"public\"",
            ),
            (
                json!({"ipAddressType": "v6"}),
                "ipAddressType: expected ipv4 or dualstack",
            ),
            (
                json!({"snapshotBucket": "My_Bucket"}),
                "snapshotBucket: expected an S3 bucket name",
            ),
            (
                json!({"albArn": "nope"}),
                "albArn: expected an ARN containing :loadbalancer/app/",
            ),
            (
                json!({"albDNSName": 7}),
                "albDNSName: expected a string, got 7",
            ),
            (
                json!({"securityGroups": "sg-1"}),
                "securityGroups: expected a list of ids, got \"sg-1\"",
            ),
            (
                json!({"now": 1}),
                "now: expected an RFC 3339 time string, got 1",
            ),
            (
                json!({"albName": "a".repeat(33)}),
                "albName: expected a load balancer name",
            ),
            (
                json!({"domainName": "no spaces.com"}),
                "domainName: expected a domain name such as dev.example.com, got \"no spaces.com\"",
            ),
        ];
        for (change, expected) in cases {
            let msg = error(with(change.clone()));
            assert!(
                msg.contains(expected),
                "{change}: `{expected}` not in: {msg}"
            );
        }
    }

    #[test]
    fn target_group_problems() {
        let tg = |v: Value| with(json!({"targetGroups": [v]}));
        let arn = "arn:aws:elasticloadbalancing:ap-northeast-2:1:targetgroup/a/1";
        let cases = [
            (
                tg(json!("x")),
                "targetGroups[0]: expected an object, got \"x\"",
            ),
            (
                tg(json!({"listenerProtocol": "HTTP", "listenerPort": 80})),
                "targetGroups[0].targetGroupArn: expected a target group ARN, got nothing",
            ),
            (
                tg(
                    json!({"targetGroupArn": "arn:x", "listenerProtocol": "HTTP", "listenerPort": 80}),
                ),
                "targetGroups[0].targetGroupArn: expected a target group ARN (arn:…:targetgroup/…)",
            ),
            (
                tg(json!({"targetGroupArn": arn, "listenerProtocol": "TCP", "listenerPort": 80})),
                "targetGroups[0].listenerProtocol: expected HTTP or HTTPS, got \"TCP\"",
            ),
            (
                tg(json!({"targetGroupArn": arn, "listenerProtocol": "HTTP", "listenerPort": 0})),
                "targetGroups[0].listenerPort: expected a port 1-65535, got 0",
            ),
            (
                tg(
                    json!({"targetGroupArn": arn, "listenerProtocol": "http", "listenerPort": "80", "certificateArn": "cert"}),
                ),
                "targetGroups[0].certificateArn: expected an ARN",
            ),
            (
                with(json!({"targetGroups": [
                    {"targetGroupArn": arn, "listenerProtocol": "HTTP", "listenerPort": 80},
                    {"targetGroupArn": arn, "listenerProtocol": "HTTP", "listenerPort": 80}
                ]})),
                "targetGroups[1].listenerPort 80 is used by an earlier target group",
            ),
        ];
        for (input, expected) in cases {
            let msg = error(input);
            assert!(msg.contains(expected), "`{expected}` not in: {msg}");
        }
        let ok = parse(&tg(
            json!({"targetGroupArn": arn, "listenerProtocol": "http", "listenerPort": "8080"}),
        ))
        .unwrap();
        assert_eq!(ok.target_groups[0].port, 8080);
    }

    #[test]
    fn blank_list_entries_are_dropped() {
        let e = parse(&with(json!({"securityGroups": [""]}))).unwrap();
        assert!(e.security_groups.is_empty());
        let msg = error(with(json!({"subnets": ["subnet-1", " "]})));
        assert!(
            msg.contains("subnets: expected a list of at least 2 ids"),
            "{msg}"
        );
    }

    #[test]
    fn not_an_object() {
        assert_eq!(
            error(json!([1, 2])),
            "event: expected a JSON object, got an array"
        );
        assert_eq!(
            error(Value::Null),
            "event: expected a JSON object, got null"
        );
    }

    #[test]
    fn near_misses_of_known_fields_are_refused_by_name() {
        for (key, known) in [
            ("timeZone", "timezone"),
            ("snapshotbucket", "snapshotBucket"),
            ("hold_until", "holdUntil"),
            ("Days", "days"),
            ("subnet", "subnets"),
            ("skip-dates", "skipDates"),
            ("AlbName", "albName"),
            ("certificateARN", "certificateArn"),
            ("ipAdressType", "ipAddressType"),
        ] {
            let msg = error(with(json!({ key: "x" })));
            assert!(
                msg.contains(&format!("{key}: not a field; did you mean {known}?")),
                "{key}: {msg}"
            );
        }
        let arn = "arn:aws:elasticloadbalancing:ap-northeast-2:1:targetgroup/a/1";
        let msg = error(with(json!({"targetGroups": [
            {"targetGroupArn": arn, "listenerProtocol": "HTTP", "listenerPort": 80, "listenerport": 8080}
        ]})));
        assert!(
            msg.contains("targetGroups[0].listenerport: not a field; did you mean listenerPort?"),
            "{msg}"
        );
    }

    #[test]
    fn fields_the_states_add_and_envelopes_are_carried_not_refused() {
        let added = [
            "albExists",
            "shouldExist",
            "shouldExistReason",
            "recordExists",
            "decisionTime",
            "nextStep",
            "albCreated",
            "restoredFromSnapshot",
            "snapshotKey",
            "listenersCreated",
            "rulesCreated",
            "albDeleted",
            "albAlreadyGone",
            "recordChanged",
            "recordDeleted",
            "recordStatus",
            "error",
            // an EventBridge envelope, and other fields people add
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "region",
            "resources",
            "detail",
            "comment",
            "owner",
            "ticket",
            "environment",
            "team",
        ];
        let mut v = legacy_input();
        for key in added {
            assert_eq!(near_miss(key, &FIELDS), None, "{key}");
            v[key] = json!({"carried": [key]});
        }
        parse(&v).unwrap();
    }

    #[test]
    fn start_and_end_are_one_time_each() {
        // "9~18,20"~"22" would be read as the TIME `9~18,20~22`: two windows nobody asked for.
        for (change, field) in [
            (
                json!({"startTime": "9~18,20", "endTime": "22"}),
                "startTime",
            ),
            (json!({"endTime": "18-20"}), "endTime"),
            (json!({"startTime": "9,10"}), "startTime"),
        ] {
            let msg = error(with(change));
            assert!(
                msg.contains(&format!("{field}: expected an hour 0-23 or \"HH:MM\"")),
                "{msg}"
            );
        }
    }

    #[test]
    fn empty_days_named_plainly() {
        assert_eq!(
            error(with(json!({"days": ""}))),
            "invalid input: days: expected days such as \"mon-fri\" or [\"월\", \"수\"], got \"\""
        );
        assert!(error(with(json!({"days": []}))).ends_with("got an array of 0"));
    }

    #[test]
    fn huge_inputs_make_short_messages() {
        let huge = "9".repeat(5_000_000);
        for field in [
            "albName",
            "startTime",
            "days",
            "skipDates",
            "timezone",
            "hostedZoneId",
            "domainName",
            "snapshotBucket",
        ] {
            let msg = error(with(json!({ field: huge })));
            assert!(
                msg.contains(field),
                "{field}: {}",
                &msg[..200.min(msg.len())]
            );
            assert!(msg.len() < 1000, "{field}: {} bytes", msg.len());
        }
        let arn = format!("arn:aws:acm:r:1:certificate/{huge}");
        for field in ["certificateArn", "albArn"] {
            assert!(error(with(json!({ field: arn }))).contains(field));
        }
        let msg = error(with(json!({"targetGroups": vec![1; 10_000]})));
        assert!(msg.starts_with("invalid input: targetGroups[0]: expected an object, got 1; "));
        assert!(msg.ends_with("; and 9990 more"), "{msg}");
        assert!(msg.len() < 1000);
        let key = "k".repeat(1_000_000);
        assert!(
            parse(&with(json!({ key: 1 }))).is_ok(),
            "a long unknown key is carried"
        );
    }

    #[test]
    fn set_keeps_unknown_fields() {
        let mut v = with(json!({"custom": {"keep": true}}));
        set(&mut v, "albExists", true);
        assert_eq!(v["custom"]["keep"], true);
        assert_eq!(v["albExists"], true);
    }
}
