//! JSON documents in S3, for the small records lightsout keeps (ALB snapshots, request outcomes).

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

/// An S3 failure: the AWS error code (or one of ours for transport failures) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.operation, self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

fn s3_error<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> S3Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |error| {
        let (code, message) = lightsout_lambda::aws_error(&error);
        S3Error {
            operation,
            code,
            message,
        }
    }
}

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
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
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
            Err(e) => return Err(s3_error("GetObject")(e)),
        };
        let bytes = answer.body.collect().await.map_err(|e| S3Error {
            operation: "GetObject",
            code: "ReadError".into(),
            message: e.to_string(),
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// The object's bytes and ETag, or `None` when there is no such key.
    pub async fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(Vec<u8>, String)>, S3Error> {
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
            Err(e) => return Err(s3_error("GetObject")(e)),
        };
        let etag = answer.e_tag().unwrap_or_default().to_string();
        let bytes = answer.body.collect().await.map_err(|e| S3Error {
            operation: "GetObject",
            code: "ReadError".into(),
            message: e.to_string(),
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
    ) -> Result<Option<String>, S3Error> {
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
                let error = s3_error("PutObject")(e);
                if error.code == "PreconditionFailed" || error.code == "ConditionalRequestConflict"
                {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(s3_error("PutObject"))?;
        Ok(())
    }
}
