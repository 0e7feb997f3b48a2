//! Who is carrying out a request right now: a claim object `requests/{id}.claim` next to the
//! outcome, written with S3 conditional writes, so that two deliveries of the same request at the
//! same time (SQS delivers at least once, and a producer retry can queue a request twice) do not
//! both act. The one that creates the claim acts; the other fails its message, which comes back
//! after the visibility timeout and then finds the outcome.
//!
//! A claim lasts until the claiming invocation's deadline: after it, that invocation has ended,
//! and a later delivery may take the claim over (its outcome is checked once more first). A
//! delivery that fails gives its claim up at once, so the retry need not wait for the deadline.

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use lightsout_s3::JsonStore;
use lightsout_sdk::AwsError;

/// Lambda's longest timeout: how long a claim lasts when the runtime gives no usable deadline
/// (`cargo lambda watch` sends one in 1970).
pub const LONGEST_INVOCATION_SECONDS: i64 = 900;

pub fn key(request_id: &str) -> String {
    format!("requests/{request_id}.claim")
}

/// Until when a claim made by this invocation holds: its deadline (milliseconds since the epoch),
/// or Lambda's longest timeout from `now` when the deadline is past, absent or beyond that.
pub fn lease_until(deadline_ms: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    let longest = now + Duration::seconds(LONGEST_INVOCATION_SECONDS);
    match i64::try_from(deadline_ms)
        .ok()
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
    {
        Some(deadline) if deadline > now && deadline <= longest => deadline,
        _ => longest,
    }
}

/// Who holds a claim, from its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// This invocation (a write of ours whose answer was lost).
    Us,
    /// Another invocation, until then.
    Other(DateTime<Utc>),
    /// Nobody: expired, given up, or unreadable.
    Nobody,
}

/// The claim object's document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    /// The request claimed (for whoever reads the bucket; not needed to tell the holder).
    #[serde(default)]
    request_id: String,
    /// The claiming invocation (its Lambda request id).
    token: String,
    /// When the claim ends: RFC 3339, seconds, UTC.
    until: String,
}

pub fn holder(document: &[u8], token: &str, now: DateTime<Utc>) -> Holder {
    let Ok(claim) = serde_json::from_slice::<Document>(document) else {
        return Holder::Nobody;
    };
    let until = DateTime::parse_from_rfc3339(&claim.until).map(|t| t.with_timezone(&Utc));
    match until {
        Ok(until) if claim.token == token && until > now => Holder::Us,
        Ok(until) if until > now => Holder::Other(until),
        _ => Holder::Nobody,
    }
}

fn document(request_id: &str, token: &str, until: DateTime<Utc>) -> Vec<u8> {
    let claim = Document {
        request_id: request_id.into(),
        token: token.into(),
        until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    serde_json::to_vec(&claim).unwrap_or_default()
}

/// A claim this invocation holds: enough to give it up.
#[derive(Debug)]
pub struct Claim {
    key: String,
    etag: String,
}

#[derive(Debug)]
pub enum Claimed {
    /// Nobody had claimed the request: nobody has carried it out.
    Fresh(Claim),
    /// An earlier claim had ended: its holder may have finished, so check the outcome again.
    TakenOver(Claim),
    /// Another delivery holds it until then.
    Held(DateTime<Utc>),
}

/// Claims `request_id` for the invocation `token` until `until`.
pub async fn acquire(
    store: &JsonStore,
    bucket: &str,
    request_id: &str,
    token: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Claimed, AwsError> {
    let key = key(request_id);
    let body = document(request_id, token, until);
    if let Some(etag) = store.put_if(bucket, &key, body.clone(), None).await? {
        return Ok(Claimed::Fresh(Claim { key, etag }));
    }
    // There is a claim. Ours (the answer to our write was lost and the retry was refused),
    // someone else's, or one that has ended.
    let Some((existing, etag)) = store.get_with_etag(bucket, &key).await? else {
        // Claims are never deleted; treat a vanished one as held, to be safe: retried later.
        return Ok(Claimed::Held(now));
    };
    match holder(&existing, token, now) {
        Holder::Us => Ok(Claimed::Fresh(Claim { key, etag })),
        Holder::Other(until) => Ok(Claimed::Held(until)),
        Holder::Nobody => match store.put_if(bucket, &key, body, Some(&etag)).await? {
            Some(etag) => Ok(Claimed::TakenOver(Claim { key, etag })),
            // Another delivery took it over first, or our write landed and its answer was lost.
            None => match store.get_with_etag(bucket, &key).await? {
                Some((now_there, etag)) if holder(&now_there, token, now) == Holder::Us => {
                    Ok(Claimed::TakenOver(Claim { key, etag }))
                }
                Some((now_there, _)) => match holder(&now_there, token, now) {
                    Holder::Other(until) => Ok(Claimed::Held(until)),
                    _ => Ok(Claimed::Held(now)),
                },
                None => Ok(Claimed::Held(now)),
            },
        },
    }
}

/// Gives a claim up (it ends now), so that the retry of a failed delivery can claim at once.
/// Only if the claim is still ours; a lost answer leaves it to end at its deadline.
pub async fn release(
    store: &JsonStore,
    bucket: &str,
    request_id: &str,
    token: &str,
    claim: &Claim,
) -> Result<(), AwsError> {
    let ended = Utc.timestamp_opt(0, 0).single().unwrap_or_default();
    store
        .put_if(
            bucket,
            &claim.key,
            document(request_id, token, ended),
            Some(&claim.etag),
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_claim_lasts_to_the_deadline_or_lambdas_longest_timeout() {
        let now = at("2026-11-25T10:00:00Z");
        let in_a_minute = now.timestamp_millis() as u64 + 60_000;
        assert_eq!(lease_until(in_a_minute, now), at("2026-11-25T10:01:00Z"));
        // cargo lambda watch: a deadline in 1970; none; one beyond 15 minutes; u64::MAX.
        for deadline in [
            600_000,
            0,
            now.timestamp_millis() as u64 + 3_600_000,
            u64::MAX,
        ] {
            assert_eq!(lease_until(deadline, now), at("2026-11-25T10:15:00Z"));
        }
    }

    #[test]
    fn who_holds_a_claim() {
        let now = at("2026-11-25T10:00:00Z");
        let doc = |token: &str, until: &str| document("r-1", token, at(until));
        assert_eq!(
            holder(&doc("me", "2026-11-25T10:05:00Z"), "me", now),
            Holder::Us
        );
        assert_eq!(
            holder(&doc("other", "2026-11-25T10:05:00Z"), "me", now),
            Holder::Other(at("2026-11-25T10:05:00Z"))
        );
        // Ended (or given up: until = 1970), whoever made it.
        assert_eq!(
            holder(&doc("other", "2026-11-25T09:59:59Z"), "me", now),
            Holder::Nobody
        );
        assert_eq!(
            holder(&doc("me", "1970-01-01T00:00:00Z"), "me", now),
            Holder::Nobody
        );
        // Unreadable claims do not block forever.
        for junk in [&b"not json"[..], b"{}", b"{\"until\": 5}", b"[]"] {
            assert_eq!(holder(junk, "me", now), Holder::Nobody);
        }
    }

    #[test]
    fn claim_keys_never_meet_outcome_keys() {
        assert_eq!(key("abc"), "requests/abc.claim");
        assert_ne!(key("x.json"), lightsout_requests::Outcome::key("x.claim"));
        assert!(lightsout_requests::Outcome::key("x").ends_with(".json"));
    }
}
