//! What every lightsout function shares at start-up: JSON logs through `tracing`, one line per
//! event, with the Lambda request id of the invocation.

/// Installs the JSON log subscriber. `RUST_LOG` sets the level (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// A Lambda error with a stable `errorType`, from any error that names its own type.
pub fn diagnostic(error_type: &str, message: impl std::fmt::Display) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error_type.to_string(),
        error_message: message.to_string(),
    }
}

/// The AWS error code and message of a failed SDK call, as reports and error types use them.
/// Failures without a service answer get a code of our own: `Timeout`, `DispatchFailure`
/// (connection refused or dropped) or `ResponseError` (an answer that could not be read).
pub fn aws_error<E, R>(
    error: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> (String, String)
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            (
                e.code().unwrap_or("Unknown").to_string(),
                e.message().unwrap_or("").to_string(),
            )
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into()),
        SdkError::DispatchFailure(f) => ("DispatchFailure".into(), format!("{f:?}")),
        other => (
            "ResponseError".into(),
            aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
        ),
    }
}

/// Serves a JSON-in, JSON-out handler: the Lambda runtime loop every lightsout function runs.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, lambda_runtime::Diagnostic>>,
{
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let result = handler(event.payload).await;
            if let Err(error) = &result {
                tracing::error!(
                    error_type = error.error_type,
                    error = error.error_message,
                    "invocation failed"
                );
            }
            result
        },
    ))
    .await
}
