//! Between the ELBv2 API's types and the snapshot's. Anything a snapshot cannot hold faithfully is
//! refused (`UnsupportedConfiguration`), so an ALB is never deleted with a part of it unsaved.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig,
    HostHeaderConditionConfig, HttpHeaderConditionConfig, HttpRequestMethodConditionConfig,
    PathPatternConditionConfig, QueryStringConditionConfig, QueryStringKeyValuePair,
    RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition, SourceIpConditionConfig,
    TargetGroupStickinessConfig, TargetGroupTuple,
};

use lightsout_alb::snapshot::{ActionSnapshot, ConditionSnapshot, QueryPair, WeightedTargetGroup};
use lightsout_alb::{AlbError, ErrorKind};

fn unsupported(what: String) -> AlbError {
    AlbError::new(
        ErrorKind::UnsupportedConfiguration,
        format!("{what}: a snapshot cannot restore this, so the ALB is left in place"),
    )
}

/// A listener's or rule's action as the snapshot holds it (`place` names where it is, for the
/// error). One a snapshot cannot restore (authenticate, a forward without a target group, …) is
/// `UnsupportedConfiguration`.
pub fn action_to_snapshot(action: &Action, place: &str) -> Result<ActionSnapshot, AlbError> {
    let order = action.order();
    match action.r#type() {
        Some(ActionTypeEnum::Forward) => {
            let (target_groups, stickiness_seconds): (Vec<WeightedTargetGroup>, Option<i32>) =
                match action.forward_config() {
                    Some(config) if !config.target_groups().is_empty() => (
                        config
                            .target_groups()
                            .iter()
                            .filter_map(|t| {
                                Some(WeightedTargetGroup {
                                    target_group_arn: t.target_group_arn()?.to_string(),
                                    weight: t.weight(),
                                })
                            })
                            .collect(),
                        config
                            .target_group_stickiness_config()
                            .filter(|s| s.enabled() == Some(true))
                            .map(|s| s.duration_seconds().unwrap_or(3600)),
                    ),
                    _ => (
                        action
                            .target_group_arn()
                            .map(|arn| WeightedTargetGroup {
                                target_group_arn: arn.to_string(),
                                weight: None,
                            })
                            .into_iter()
                            .collect(),
                        None,
                    ),
                };
            if target_groups.is_empty() {
                return Err(unsupported(format!(
                    "{place}: a forward action without a target group"
                )));
            }
            Ok(ActionSnapshot::Forward {
                order,
                target_groups,
                stickiness_seconds,
            })
        }
        Some(ActionTypeEnum::Redirect) => {
            let c = action.redirect_config().ok_or_else(|| {
                unsupported(format!(
                    "{place}: a redirect action without its configuration"
                ))
            })?;
            Ok(ActionSnapshot::Redirect {
                order,
                status_code: c
                    .status_code()
                    .map_or("HTTP_302".to_string(), |s| s.as_str().to_string()),
                protocol: c.protocol().map(str::to_string),
                port: c.port().map(str::to_string),
                host: c.host().map(str::to_string),
                path: c.path().map(str::to_string),
                query: c.query().map(str::to_string),
            })
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let c = action.fixed_response_config().ok_or_else(|| {
                unsupported(format!(
                    "{place}: a fixed-response action without its configuration"
                ))
            })?;
            Ok(ActionSnapshot::FixedResponse {
                order,
                status_code: c.status_code().unwrap_or("200").to_string(),
                content_type: c.content_type().map(str::to_string),
                message_body: c.message_body().map(str::to_string),
            })
        }
        other => Err(unsupported(format!(
            "{place}: a `{}` action",
            other.map_or("unknown", |t| t.as_str())
        ))),
    }
}

/// The action to create again from its snapshot: the simple form for one unweighted target
/// group, a forward configuration otherwise.
pub fn action_from_snapshot(action: &ActionSnapshot) -> Action {
    match action {
        ActionSnapshot::Forward {
            order,
            target_groups,
            stickiness_seconds,
        } => {
            let builder = Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .set_order(*order);
            // A single unweighted target group is the simple form; anything else needs ForwardConfig.
            if let ([only], None) = (target_groups.as_slice(), stickiness_seconds) {
                if only.weight.is_none() {
                    return builder.target_group_arn(&only.target_group_arn).build();
                }
            }
            let mut config = ForwardActionConfig::builder().set_target_groups(Some(
                target_groups
                    .iter()
                    .map(|t| {
                        TargetGroupTuple::builder()
                            .target_group_arn(&t.target_group_arn)
                            .set_weight(t.weight)
                            .build()
                    })
                    .collect(),
            ));
            if let Some(seconds) = stickiness_seconds {
                config = config.target_group_stickiness_config(
                    TargetGroupStickinessConfig::builder()
                        .enabled(true)
                        .duration_seconds(*seconds)
                        .build(),
                );
            }
            builder.forward_config(config.build()).build()
        }
        ActionSnapshot::Redirect {
            order,
            status_code,
            protocol,
            port,
            host,
            path,
            query,
        } => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .set_order(*order)
            .redirect_config(
                RedirectActionConfig::builder()
                    .status_code(RedirectActionStatusCodeEnum::from(status_code.as_str()))
                    .set_protocol(protocol.clone())
                    .set_port(port.clone())
                    .set_host(host.clone())
                    .set_path(path.clone())
                    .set_query(query.clone())
                    .build(),
            )
            .build(),
        ActionSnapshot::FixedResponse {
            order,
            status_code,
            content_type,
            message_body,
        } => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .set_order(*order)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(status_code)
                    .set_content_type(content_type.clone())
                    .set_message_body(message_body.clone())
                    .build(),
            )
            .build(),
    }
}

/// A rule condition as the snapshot holds it (`place` names the rule, for the error). One with
/// regular expressions, or on a field it does not know, is `UnsupportedConfiguration`.
pub fn condition_to_snapshot(
    condition: &RuleCondition,
    place: &str,
) -> Result<ConditionSnapshot, AlbError> {
    let field = condition.field().unwrap_or_default().to_string();
    let strings = |v: &[String]| v.to_vec();
    let regex = !condition.regex_values().is_empty()
        || condition
            .http_header_config()
            .is_some_and(|h| !h.regex_values().is_empty())
        || condition
            .host_header_config()
            .is_some_and(|h| !h.regex_values().is_empty())
        || condition
            .path_pattern_config()
            .is_some_and(|p| !p.regex_values().is_empty());
    if regex {
        return Err(unsupported(format!(
            "{place}: a `{field}` condition with regular expressions"
        )));
    }
    let legacy = strings(condition.values());
    let pick = |specific: Option<Vec<String>>| {
        specific
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| legacy.clone())
    };
    let mut snapshot = ConditionSnapshot {
        field: field.clone(),
        values: vec![],
        header_name: None,
        query: vec![],
    };
    match field.as_str() {
        "path-pattern" => {
            snapshot.values = pick(condition.path_pattern_config().map(|c| strings(c.values())))
        }
        "host-header" => {
            snapshot.values = pick(condition.host_header_config().map(|c| strings(c.values())))
        }
        "http-request-method" => {
            snapshot.values = pick(
                condition
                    .http_request_method_config()
                    .map(|c| strings(c.values())),
            )
        }
        "source-ip" => {
            snapshot.values = pick(condition.source_ip_config().map(|c| strings(c.values())))
        }
        "http-header" => {
            let c = condition.http_header_config().ok_or_else(|| {
                unsupported(format!(
                    "{place}: an http-header condition without a header"
                ))
            })?;
            snapshot.header_name = c.http_header_name().map(str::to_string);
            snapshot.values = strings(c.values());
        }
        "query-string" => {
            let c = condition.query_string_config().ok_or_else(|| {
                unsupported(format!("{place}: a query-string condition without pairs"))
            })?;
            snapshot.query = c
                .values()
                .iter()
                .map(|p| QueryPair {
                    key: p.key().map(str::to_string),
                    value: p.value().unwrap_or_default().to_string(),
                })
                .collect();
        }
        other => return Err(unsupported(format!("{place}: a `{other}` condition"))),
    }
    Ok(snapshot)
}

/// The rule condition to create again from its snapshot.
pub fn condition_from_snapshot(condition: &ConditionSnapshot) -> RuleCondition {
    let values = Some(condition.values.clone());
    let builder = RuleCondition::builder().field(&condition.field);
    match condition.field.as_str() {
        "path-pattern" => builder.path_pattern_config(
            PathPatternConditionConfig::builder()
                .set_values(values)
                .build(),
        ),
        "host-header" => builder.host_header_config(
            HostHeaderConditionConfig::builder()
                .set_values(values)
                .build(),
        ),
        "http-request-method" => builder.http_request_method_config(
            HttpRequestMethodConditionConfig::builder()
                .set_values(values)
                .build(),
        ),
        "source-ip" => builder.source_ip_config(
            SourceIpConditionConfig::builder()
                .set_values(values)
                .build(),
        ),
        "http-header" => builder.http_header_config(
            HttpHeaderConditionConfig::builder()
                .set_http_header_name(condition.header_name.clone())
                .set_values(values)
                .build(),
        ),
        _ => builder.query_string_config(
            QueryStringConditionConfig::builder()
                .set_values(Some(
                    condition
                        .query
                        .iter()
                        .map(|p| {
                            QueryStringKeyValuePair::builder()
                                .set_key(p.key.clone())
                                .value(&p.value)
                                .build()
                        })
                        .collect(),
                ))
                .build(),
        ),
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_action(snapshot: ActionSnapshot) {
        let action = action_from_snapshot(&snapshot);
        assert_eq!(action_to_snapshot(&action, "test").unwrap(), snapshot);
    }

    #[test]
    fn actions_round_trip() {
        round_trip_action(ActionSnapshot::Forward {
            order: Some(1),
            target_groups: vec![WeightedTargetGroup {
                target_group_arn: "tg-a".into(),
                weight: None,
            }],
            stickiness_seconds: None,
        });
        round_trip_action(ActionSnapshot::Forward {
            order: None,
            target_groups: vec![
                WeightedTargetGroup {
                    target_group_arn: "tg-a".into(),
                    weight: Some(80),
                },
                WeightedTargetGroup {
                    target_group_arn: "tg-b".into(),
                    weight: Some(20),
                },
            ],
            stickiness_seconds: Some(600),
        });
        round_trip_action(ActionSnapshot::Redirect {
            order: None,
            status_code: "HTTP_301".into(),
            protocol: Some("HTTPS".into()),
            port: Some("443".into()),
            host: Some("#{host}".into()),
            path: Some("/#{path}".into()),
            query: Some("#{query}".into()),
        });
        round_trip_action(ActionSnapshot::FixedResponse {
            order: Some(2),
            status_code: "503".into(),
            content_type: Some("text/plain".into()),
            message_body: Some("closed for the night".into()),
        });
    }

    #[test]
    fn conditions_round_trip() {
        for c in [
            ConditionSnapshot {
                field: "path-pattern".into(),
                values: vec!["/ws*".into()],
                header_name: None,
                query: vec![],
            },
            ConditionSnapshot {
                field: "host-header".into(),
                values: vec!["api.example.com".into()],
                header_name: None,
                query: vec![],
            },
            ConditionSnapshot {
                field: "http-header".into(),
                values: vec!["yes".into()],
                header_name: Some("X-Beta".into()),
                query: vec![],
            },
            ConditionSnapshot {
                field: "query-string".into(),
                values: vec![],
                header_name: None,
                query: vec![QueryPair {
                    key: Some("v".into()),
                    value: "2".into(),
                }],
            },
            ConditionSnapshot {
                field: "http-request-method".into(),
                values: vec!["GET".into()],
                header_name: None,
                query: vec![],
            },
            ConditionSnapshot {
                field: "source-ip".into(),
                values: vec!["10.0.0.0/8".into()],
                header_name: None,
                query: vec![],
            },
        ] {
            assert_eq!(
                condition_to_snapshot(&condition_from_snapshot(&c), "t").unwrap(),
                c
            );
        }
        // Older API answers carry only the legacy `values`.
        let legacy = RuleCondition::builder()
            .field("path-pattern")
            .values("/api/*")
            .build();
        assert_eq!(
            condition_to_snapshot(&legacy, "t").unwrap().values,
            ["/api/*"]
        );
    }

    #[test]
    fn refuses_what_it_cannot_restore() {
        let oidc = Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .build();
        let e = action_to_snapshot(&oidc, "listener 443").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedConfiguration);
        assert!(
            e.message
                .starts_with("listener 443: a `authenticate-oidc` action"),
            "{}",
            e.message
        );
        let regex = RuleCondition::builder()
            .field("path-pattern")
            .regex_values("^/a.*")
            .build();
        assert!(condition_to_snapshot(&regex, "rule 5").is_err());
    }
}
