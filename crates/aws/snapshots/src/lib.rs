//! ALB snapshots in S3, one object per ALB name (bucket versioning keeps the history).

#![warn(missing_docs)]

use tracing::info;

use lightsout_alb::discovery::Stored;
use lightsout_alb::ports::Snapshots;
use lightsout_alb::snapshot::KEY_PREFIX;
use lightsout_alb::{AlbError, AlbSnapshot, ErrorKind};
use lightsout_s3::JsonStore;
use lightsout_sdk::AwsError;

/// ALB snapshots in S3, through a [`JsonStore`]: the [`Snapshots`] of the workflow.
pub struct SnapshotStore {
    store: JsonStore,
}

/// A failed call as the workflow reports it: transient ones are retried by the state machine.
fn alb(error: AwsError) -> AlbError {
    AlbError::aws(error.is_transient(), error)
}

impl SnapshotStore {
    /// S3 with `config` (see [`JsonStore::new`]).
    pub fn new(config: &aws_types::SdkConfig) -> SnapshotStore {
        SnapshotStore {
            store: JsonStore::new(config),
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
        let Some(bytes) = self.store.get(bucket, &key).await.map_err(alb)? else {
            return Ok(None);
        };
        AlbSnapshot::from_json(&bytes).map(Some).map_err(|e| {
            AlbError::new(
                ErrorKind::SnapshotFailed,
                format!("s3://{bucket}/{key}: {e}"),
            )
        })
    }

    /// Every snapshot in the bucket, each read or said why not: the sleeping load balancers the
    /// discovery step finds. One unreadable snapshot does not hide the others.
    pub async fn all(&self, bucket: &str) -> Result<Vec<Stored>, AlbError> {
        let mut out = Vec::new();
        for key in self.store.keys(bucket, KEY_PREFIX).await.map_err(alb)? {
            let Some(alb_name) = AlbSnapshot::name_of(&key) else {
                continue;
            };
            out.push(match self.load(bucket, alb_name).await {
                Ok(Some(snapshot)) => Stored::Read(snapshot),
                // Deleted between the listing and the read: nothing sleeps there any more.
                Ok(None) => continue,
                Err(error) if error.kind == ErrorKind::SnapshotFailed => Stored::Unreadable {
                    alb_name: alb_name.to_string(),
                    error: error.message,
                },
                Err(error) => return Err(error),
            });
        }
        Ok(out)
    }

    /// Saves the snapshot; returns its key. Any failure is `SnapshotFailed`: nothing may be
    /// deleted after it.
    pub async fn save(&self, bucket: &str, snapshot: &AlbSnapshot) -> Result<String, AlbError> {
        let key = AlbSnapshot::key(&snapshot.alb_name);
        let body = serde_json::to_vec_pretty(snapshot)
            .map_err(|e| AlbError::new(ErrorKind::SnapshotFailed, format!("snapshot: {e}")))?;
        self.store.put(bucket, &key, body).await.map_err(|e| {
            AlbError::new(
                ErrorKind::SnapshotFailed,
                format!("saving s3://{bucket}/{key}: {e}"),
            )
        })?;
        info!(bucket, key, "snapshot saved");
        Ok(key)
    }
}

/// The port, over the store's own methods.
impl Snapshots for SnapshotStore {
    async fn load(&self, bucket: &str, alb_name: &str) -> Result<Option<AlbSnapshot>, AlbError> {
        SnapshotStore::load(self, bucket, alb_name).await
    }

    async fn save(&self, bucket: &str, snapshot: &AlbSnapshot) -> Result<String, AlbError> {
        SnapshotStore::save(self, bucket, snapshot).await
    }

    async fn all(&self, bucket: &str) -> Result<Vec<Stored>, AlbError> {
        SnapshotStore::all(self, bucket).await
    }
}
