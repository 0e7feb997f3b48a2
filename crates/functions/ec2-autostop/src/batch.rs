//! Batched start/stop calls that a single bad instance cannot block.
//!
//! Ids go to AWS many per call. When a call fails with an error that may concern only some of its
//! ids, the batch is split in halves and each half tried again, down to single ids, so every good
//! instance is still acted on and every bad one is reported with its own error code. Errors that
//! concern the call itself (throttling after the SDK's retries, timeouts, a network failure) fail
//! the whole batch at once rather than multiplying calls.

use std::future::Future;

/// An AWS error as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The AWS error code, e.g. `IncorrectInstanceState`.
    pub code: String,
    /// AWS's error message.
    pub message: String,
    /// The failure is about the call, not the ids in it: splitting would not help.
    pub whole_call: bool,
}

impl From<lightsout_sdk::AwsError> for CallError {
    fn from(error: lightsout_sdk::AwsError) -> CallError {
        CallError {
            whole_call: lightsout_ec2::concerns_the_call(&error),
            code: error.code,
            message: error.message,
        }
    }
}

/// Runs `call` over `ids` in chunks of `batch_size`, splitting failed chunks. Returns the ids that
/// succeeded and the ids that failed with their errors, each in input order.
pub async fn run_batched<F, Fut, E>(
    ids: &[String],
    batch_size: usize,
    call: F,
) -> (Vec<String>, Vec<(String, CallError)>)
where
    F: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Into<CallError>,
{
    let mut done = Vec::new();
    let mut failed = Vec::new();
    // A stack of pending chunks, reversed so they are tried in input order.
    let mut pending: Vec<Vec<String>> = ids
        .chunks(batch_size.max(1))
        .rev()
        .map(<[String]>::to_vec)
        .collect();
    while let Some(chunk) = pending.pop() {
        match call(chunk.clone()).await.map_err(Into::into) {
            Ok(()) => done.extend(chunk),
            Err(error) if chunk.len() == 1 || error.whole_call => {
                failed.extend(chunk.into_iter().map(|id| (id, error.clone())));
            }
            Err(_) => {
                let (left, right) = chunk.split_at(chunk.len() / 2);
                pending.push(right.to_vec());
                pending.push(left.to_vec());
            }
        }
    }
    (done, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("i-{i:03}")).collect()
    }

    fn error(code: &str, whole_call: bool) -> CallError {
        CallError {
            code: code.into(),
            message: format!("{code} happened"),
            whole_call,
        }
    }

    #[tokio::test]
    async fn all_good_uses_one_call_per_batch() {
        let calls = RefCell::new(Vec::new());
        let (done, failed) = run_batched(&ids(250), 100, |chunk| {
            calls.borrow_mut().push(chunk.len());
            async { Ok::<(), CallError>(()) }
        })
        .await;
        assert_eq!(done, ids(250));
        assert!(failed.is_empty());
        assert_eq!(*calls.borrow(), [100, 100, 50]);
    }

    #[tokio::test]
    async fn one_bad_instance_does_not_block_the_others() {
        let calls = RefCell::new(0);
        let (done, failed) = run_batched(&ids(100), 100, |chunk| {
            *calls.borrow_mut() += 1;
            let bad = chunk.iter().any(|id| id == "i-042" || id == "i-077");
            async move {
                if bad {
                    Err(error("IncorrectInstanceState", false))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(done.len(), 98);
        assert!(!done.contains(&"i-042".to_string()));
        let failed_ids: Vec<&str> = failed.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(failed_ids, ["i-042", "i-077"]);
        assert_eq!(failed[0].1.code, "IncorrectInstanceState");
        // Binary splitting: about 2 × log2(100) calls per bad id, far fewer than one per id.
        assert!(*calls.borrow() < 30, "{} calls", calls.borrow());
        let mut sorted = done.clone();
        sorted.sort();
        assert_eq!(done, sorted, "order kept");
    }

    #[tokio::test]
    async fn whole_call_errors_are_not_split() {
        let calls = RefCell::new(0);
        let (done, failed) = run_batched(&ids(10), 5, |_| {
            *calls.borrow_mut() += 1;
            async { Err(error("RequestLimitExceeded", true)) }
        })
        .await;
        assert!(done.is_empty());
        assert_eq!(failed.len(), 10);
        assert_eq!(*calls.borrow(), 2);
    }

    #[tokio::test]
    async fn empty_input_makes_no_call() {
        let calls = RefCell::new(0);
        let (done, failed) = run_batched(&[], 100, |_| {
            *calls.borrow_mut() += 1;
            async { Ok::<(), CallError>(()) }
        })
        .await;
        assert!(done.is_empty() && failed.is_empty());
        assert_eq!(*calls.borrow(), 0);
    }
}
