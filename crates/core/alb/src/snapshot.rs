//! What is saved of an ALB before it is deleted, so that the morning's ALB is the same one:
//! every listener with its default actions, rules, certificates, the load-balancer attributes and
//! tags. Stored as JSON in S3 (see the `lightsout-snapshots` crate).

use serde::{Deserialize, Serialize};

/// Where the snapshots are in their bucket.
pub const KEY_PREFIX: &str = "lightsout/alb-snapshots/";

/// Bumped when the format changes incompatibly; a newer snapshot is refused, never half-read.
pub const SNAPSHOT_VERSION: u32 = 1;

/// One saved ALB: the JSON object stored under [`AlbSnapshot::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlbSnapshot {
    /// The format's version: [`SNAPSHOT_VERSION`] when written.
    pub version: u32,
    /// The ALB's name (the event's `albName`).
    pub alb_name: String,
    /// RFC 3339, when it was taken.
    pub taken_at: String,
    /// The ALB it was taken from (gone by the time it is restored).
    pub alb_arn: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
    /// Its subnets: where a load balancer found by its tags is made again (absent from snapshots
    /// taken before they were saved; the single-ALB input names its subnets itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// Its security groups (absent likewise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Every listener, by port.
    pub listeners: Vec<ListenerSnapshot>,
    /// The load-balancer attributes (`idle_timeout.timeout_seconds`, …), set again on restore.
    pub attributes: Vec<KeyValue>,
    /// The ALB's tags, added again on restore.
    pub tags: Vec<KeyValue>,
}

/// A load-balancer attribute or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// The tags a listener made for this ALB carries: the load balancer's own `AUTOSTOP_ENABLE` tag,
/// from the event (an ALB found by its tags) or its snapshot, when it is `true`. A listener does
/// not inherit its load balancer's tags, and a role that may add rules and certificates only to
/// opted-in listeners (`aws:ResourceTag` on the listener) can then complete the listeners it made.
/// Nothing for an ALB that does not opt in (the single ALB of the stack's parameters).
pub fn listener_tags(event: &crate::AlbEvent, snapshot: Option<&AlbSnapshot>) -> Vec<KeyValue> {
    use lightsout_schedule::policy::{is_enabled, TAG_ENABLE};
    let from_event = event
        .tags
        .as_ref()
        .and_then(|tags| tags.get_key_value(TAG_ENABLE));
    let from_snapshot = snapshot
        .into_iter()
        .flat_map(|s| &s.tags)
        .find(|t| t.key == TAG_ENABLE)
        .map(|t| (&t.key, &t.value));
    from_event
        .or(from_snapshot)
        .filter(|(_, value)| is_enabled(Some(value.as_str())))
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: value.clone(),
        })
        .into_iter()
        .collect()
}

/// One listener, with everything needed to make it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSnapshot {
    /// Its port.
    pub port: u16,
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    /// The TLS policy (HTTPS only), e.g. `ELBSecurityPolicy-TLS13-1-2-2021-06`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// The listener's default certificate (HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// Further certificates served by SNI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_certificate_arns: Vec<String>,
    /// What it does with a request that no rule matches.
    pub default_actions: Vec<ActionSnapshot>,
    /// Non-default rules, by priority.
    #[serde(default)]
    pub rules: Vec<RuleSnapshot>,
}

/// A listener rule other than the default one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSnapshot {
    /// Its priority: lower numbers are evaluated first.
    pub priority: u32,
    /// What a request must match: all of them.
    pub conditions: Vec<ConditionSnapshot>,
    /// What is done with a matching request.
    pub actions: Vec<ActionSnapshot>,
}

/// A listener or rule action: forward (with weights), redirect or fixed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ActionSnapshot {
    /// `forward`: to one or more target groups.
    #[serde(rename = "forward", rename_all = "camelCase")]
    Forward {
        /// Where the action comes among its listener's or rule's actions, when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<i32>,
        /// Where requests go, with their weights.
        target_groups: Vec<WeightedTargetGroup>,
        /// The target group stickiness duration, in seconds, when stickiness is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stickiness_seconds: Option<i32>,
    },
    /// `redirect`: to another URL.
    #[serde(rename = "redirect", rename_all = "camelCase")]
    Redirect {
        /// Where the action comes among its listener's or rule's actions, when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<i32>,
        /// `HTTP_301` or `HTTP_302`.
        status_code: String,
        /// The new URL's protocol (`HTTPS`, `#{protocol}`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        /// Its port (`443`, `#{port}`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
        /// Its host (`#{host}`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// Its path (`/#{path}`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// Its query, without the `?` (`#{query}`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
    },
    /// `fixed-response`: an answer from the ALB itself.
    #[serde(rename = "fixed-response", rename_all = "camelCase")]
    FixedResponse {
        /// Where the action comes among its listener's or rule's actions, when set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<i32>,
        /// The HTTP status code, e.g. `503`.
        status_code: String,
        /// The answer's content type, e.g. `text/plain`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        /// The answer's body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_body: Option<String>,
    },
}

/// A target group of a forward action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedTargetGroup {
    /// Its ARN.
    pub target_group_arn: String,
    /// Its weight among the action's target groups, when AWS gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// A rule condition. `field` is the ELB field name (`path-pattern`, `host-header`, `http-header`,
/// `query-string`, `http-request-method`, `source-ip`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionSnapshot {
    /// Which part of the request is matched: the ELB field name, e.g. `path-pattern`.
    pub field: String,
    /// The values: patterns, hosts, methods, CIDRs, header values.
    #[serde(default)]
    pub values: Vec<String>,
    /// `http-header` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
    /// `query-string` only: key/value pairs (key may be absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryPair>,
}

/// One pair of a `query-string` condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPair {
    /// The key; `None` matches the value under any key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value.
    pub value: String,
}

impl AlbSnapshot {
    /// Reads a stored snapshot; a newer version than this code knows is refused.
    pub fn from_json(bytes: &[u8]) -> Result<AlbSnapshot, String> {
        let snapshot: AlbSnapshot =
            serde_json::from_slice(bytes).map_err(|e| format!("snapshot is not valid: {e}"))?;
        if snapshot.version > SNAPSHOT_VERSION {
            return Err(format!(
                "snapshot version {} is newer than this function understands ({SNAPSHOT_VERSION})",
                snapshot.version
            ));
        }
        Ok(snapshot)
    }

    /// Where a snapshot of `alb_name` lives in the bucket. Versioning keeps the older ones.
    pub fn key(alb_name: &str) -> String {
        format!("{KEY_PREFIX}{alb_name}.json")
    }

    /// The ALB a key of [`AlbSnapshot::key`] names; `None` for any other key.
    pub fn name_of(key: &str) -> Option<&str> {
        key.strip_prefix(KEY_PREFIX)?
            .strip_suffix(".json")
            .filter(|name| !name.is_empty() && !name.contains('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tags: Option<serde_json::Value>) -> crate::AlbEvent {
        let mut v = serde_json::json!({
            "albName": "dev-alb", "subnets": ["subnet-a", "subnet-b"],
            "startTime": 9, "endTime": 18, "hostedZoneId": "Z0123456789EXAMPLE",
            "domainName": "dev.example.com", "targetGroups": [{"targetGroupArn":
                "arn:aws:elasticloadbalancing:r:1:targetgroup/web/1", "listenerProtocol": "HTTP",
                "listenerPort": 80}]
        });
        if let Some(tags) = tags {
            for field in [
                "startTime",
                "endTime",
                "targetGroups",
                "hostedZoneId",
                "domainName",
            ] {
                v.as_object_mut().unwrap().remove(field);
            }
            v["tags"] = tags;
        }
        crate::AlbEvent::parse(&v, chrono::Utc::now()).unwrap()
    }

    fn with_tags(tags: &[(&str, &str)]) -> AlbSnapshot {
        let mut snapshot = AlbSnapshot::from_json(
            br#"{"version": 1, "albName": "dev-alb", "takenAt": "2026-11-25T19:00:00+09:00",
                "albArn": "arn:aws:elasticloadbalancing:r:1:loadbalancer/app/dev-alb/1",
                "scheme": "internet-facing", "ipAddressType": "ipv4", "listeners": [],
                "attributes": [], "tags": []}"#,
        )
        .unwrap();
        snapshot.tags = tags
            .iter()
            .map(|(key, value)| KeyValue {
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect();
        snapshot
    }

    #[test]
    fn listeners_carry_the_opt_in_tag_of_their_alb_only() {
        let opted_in = |value: &str| {
            vec![KeyValue {
                key: "AUTOSTOP_ENABLE".into(),
                value: value.into(),
            }]
        };
        let tagged = event(Some(
            serde_json::json!({"AUTOSTOP_ENABLE": "True", "TIME": "9-18"}),
        ));
        assert_eq!(listener_tags(&tagged, None), opted_in("True"));
        let single = event(None);
        assert_eq!(listener_tags(&single, None), vec![]);
        let restored = with_tags(&[("team", "web"), ("AUTOSTOP_ENABLE", "true")]);
        assert_eq!(listener_tags(&single, Some(&restored)), opted_in("true"));
        let opted_out = with_tags(&[("AUTOSTOP_ENABLE", "false"), ("team", "web")]);
        assert_eq!(listener_tags(&single, Some(&opted_out)), vec![]);
        assert_eq!(
            listener_tags(&single, Some(&with_tags(&[("team", "web")]))),
            vec![]
        );
    }

    #[test]
    fn round_trips_through_json() {
        let snapshot = AlbSnapshot {
            version: SNAPSHOT_VERSION,
            alb_name: "dev-alb".into(),
            taken_at: "2026-11-25T19:00:00+09:00".into(),
            alb_arn: "arn:aws:elasticloadbalancing:r:1:loadbalancer/app/dev-alb/1".into(),
            scheme: "internet-facing".into(),
            ip_address_type: "ipv4".into(),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-a".into()],
            listeners: vec![ListenerSnapshot {
                port: 443,
                protocol: "HTTPS".into(),
                ssl_policy: Some("ELBSecurityPolicy-TLS13-1-2-2021-06".into()),
                certificate_arn: Some("arn:aws:acm:r:1:certificate/a".into()),
                extra_certificate_arns: vec!["arn:aws:acm:r:1:certificate/b".into()],
                default_actions: vec![ActionSnapshot::Forward {
                    order: Some(1),
                    target_groups: vec![WeightedTargetGroup {
                        target_group_arn: "tg-a".into(),
                        weight: Some(80),
                    }],
                    stickiness_seconds: None,
                }],
                rules: vec![RuleSnapshot {
                    priority: 10,
                    conditions: vec![ConditionSnapshot {
                        field: "path-pattern".into(),
                        values: vec!["/ws*".into()],
                        header_name: None,
                        query: vec![],
                    }],
                    actions: vec![ActionSnapshot::FixedResponse {
                        order: None,
                        status_code: "503".into(),
                        content_type: Some("text/plain".into()),
                        message_body: Some("closed".into()),
                    }],
                }],
            }],
            attributes: vec![KeyValue {
                key: "idle_timeout.timeout_seconds".into(),
                value: "300".into(),
            }],
            tags: vec![KeyValue {
                key: "team".into(),
                value: "web".into(),
            }],
        };
        let json = serde_json::to_vec(&snapshot).unwrap();
        assert!(String::from_utf8_lossy(&json).contains(r#""type":"fixed-response""#));
        assert_eq!(AlbSnapshot::from_json(&json).unwrap(), snapshot);
    }

    #[test]
    fn a_snapshot_from_before_subnets_were_saved_still_reads() {
        let older = br#"{"version": 1, "albName": "a", "takenAt": "", "albArn": "", "scheme": "internal", "ipAddressType": "ipv4", "listeners": [], "attributes": [], "tags": []}"#;
        let snapshot = AlbSnapshot::from_json(older).unwrap();
        assert!(snapshot.subnets.is_empty() && snapshot.security_groups.is_empty());
        let json = String::from_utf8(serde_json::to_vec(&snapshot).unwrap()).unwrap();
        assert!(!json.contains("subnets"), "{json}");
    }

    #[test]
    fn keys_name_their_alb() {
        assert_eq!(
            AlbSnapshot::name_of(&AlbSnapshot::key("dev-alb")),
            Some("dev-alb")
        );
        for other in [
            "lightsout/alb-snapshots/.json",
            "lightsout/alb-snapshots/a/b.json",
            "lightsout/alb-snapshots/dev-alb.txt",
            "elsewhere/dev-alb.json",
        ] {
            assert_eq!(AlbSnapshot::name_of(other), None, "{other}");
        }
    }

    #[test]
    fn refuses_newer_or_broken_snapshots() {
        let newer = br#"{"version": 99, "albName": "a", "takenAt": "", "albArn": "", "scheme": "", "ipAddressType": "", "listeners": [], "attributes": [], "tags": []}"#;
        assert!(AlbSnapshot::from_json(newer)
            .unwrap_err()
            .contains("version 99 is newer"));
        assert!(AlbSnapshot::from_json(b"{}")
            .unwrap_err()
            .starts_with("snapshot is not valid"));
    }
}
