//! JSON documents in S3, for the small records lightsout keeps (ALB snapshots, request outcomes).

#![warn(missing_docs)]

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use lightsout_sdk::AwsError;

/// JSON objects in S3: read, written, or written only if unchanged ([`JsonStore::put_if`]).
pub struct JsonStore {
    client: Client,
}

impl JsonStore {
    /// Against a custom endpoint (`AWS_ENDPOINT_URL`, e.g. the local stand-in) buckets are
    /// addressed by path: a bucket name cannot be a sub-domain of `127.0.0.1:PORT`.
    pub fn new(config: &aws_types::SdkConfig) -> JsonStore {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        JsonStore {
            client: Client::from_conf(s3),
        }
    }

    /// The object's bytes, or `None` when there is no such key.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        Ok(self
            .get_with_etag(bucket, key)
            .await?
            .map(|(bytes, _)| bytes))
    }

    /// The object's bytes and ETag, or `None` when there is no such key.
    pub async fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(Vec<u8>, String)>, AwsError> {
        let answer = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => return Ok(None),
            Err(e) => return Err(AwsError::of("GetObject")(e)),
        };
        let etag = answer.e_tag().unwrap_or_default().to_string();
        let bytes = answer.body.collect().await.map_err(|e| AwsError {
            operation: "GetObject",
            code: "ReadError".into(),
            message: e.to_string(),
            answered: false,
        })?;
        Ok(Some((bytes.into_bytes().to_vec(), etag)))
    }

    /// A conditional write: only if there is no object at `key` yet (`etag` None: `If-None-Match:
    /// *`), or only if the object is still the one with that ETag (`If-Match`). The new ETag, or
    /// `None` when the condition did not hold (412 PreconditionFailed, or 409
    /// ConditionalRequestConflict: another conditional write to the key was in progress).
    pub async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        etag: Option<&str>,
    ) -> Result<Option<String>, AwsError> {
        let put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let put = match etag {
            None => put.if_none_match("*"),
            Some(etag) => put.if_match(etag),
        };
        match put.send().await {
            Ok(written) => Ok(Some(written.e_tag().unwrap_or_default().to_string())),
            Err(e) => {
                let error = AwsError::of("PutObject")(e);
                if error.code == "PreconditionFailed" || error.code == "ConditionalRequestConflict"
                {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Every key under `prefix`, page by page (ListObjectsV2, 1,000 a page).
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(AwsError::of("ListObjectsV2"))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || page.is_truncated() != Some(true) {
                return Ok(keys);
            }
        }
    }

    /// Writes the object, whatever is there already.
    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(AwsError::of("PutObject"))?;
        Ok(())
    }
}
