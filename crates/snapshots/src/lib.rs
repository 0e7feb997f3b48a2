//! ALB snapshots in S3, one object per ALB name (bucket versioning keeps the history).

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use tracing::info;

use lightsout_alb::{AlbError, AlbSnapshot, ErrorKind};

pub struct SnapshotStore {
    client: Client,
}

fn aws<E, R>(operation: &str) -> impl FnOnce(SdkError<E, R>) -> AlbError + '_
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |error| {
        let (code, message) = lightsout_lambda::aws_error(&error);
        AlbError::aws(operation, &code, &message)
    }
}

impl SnapshotStore {
    /// Against a custom endpoint (`AWS_ENDPOINT_URL`, e.g. the local stand-in) buckets are
    /// addressed by path: a bucket name cannot be a sub-domain of `127.0.0.1:PORT`.
    pub fn new(config: &aws_types::SdkConfig) -> SnapshotStore {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        SnapshotStore {
            client: Client::from_conf(s3),
        }
    }

    /// The stored snapshot of `alb_name`, if any. An unreadable one is an error, never "none":
    /// building a bare ALB over a snapshot we failed to read would silently lose its configuration.
    pub async fn load(
        &self,
        bucket: &str,
        alb_name: &str,
    ) -> Result<Option<AlbSnapshot>, AlbError> {
        let key = AlbSnapshot::key(alb_name);
        let answer = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => return Ok(None),
            Err(e) => return Err(aws("GetObject")(e)),
        };
        let bytes = answer
            .body
            .collect()
            .await
            .map_err(|e| AlbError::aws("GetObject", "ReadError", &e.to_string()))?
            .into_bytes();
        AlbSnapshot::from_json(&bytes).map(Some).map_err(|e| {
            AlbError::new(
                ErrorKind::SnapshotFailed,
                format!("s3://{bucket}/{key}: {e}"),
            )
        })
    }

    /// Saves the snapshot; returns its key. Any failure is `SnapshotFailed`: nothing may be
    /// deleted after it.
    pub async fn save(&self, bucket: &str, snapshot: &AlbSnapshot) -> Result<String, AlbError> {
        let key = AlbSnapshot::key(&snapshot.alb_name);
        let body = serde_json::to_vec_pretty(snapshot)
            .map_err(|e| AlbError::new(ErrorKind::SnapshotFailed, format!("snapshot: {e}")))?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| {
                let error = aws("PutObject")(e);
                AlbError::new(
                    ErrorKind::SnapshotFailed,
                    format!("saving s3://{bucket}/{key}: {error}"),
                )
            })?;
        info!(bucket, key, "snapshot saved");
        Ok(key)
    }
}
