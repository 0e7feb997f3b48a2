//! `ec2-autostop`: starts and stops every EC2 instance tagged `AUTOSTOP_ENABLE=true` as its `DAY`,
//! `TIME` and `TZ` tags say. Triggered hourly by EventBridge Scheduler; see the README for the tags,
//! the event and the report.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use ec2_autostop::handler::{self, FunctionError};
use ec2_autostop::regional_clients;
use ec2_autostop::report::Report;
use lightsout_lambda::Payload;
use lightsout_schedule::{EventError, Settings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();

    // Shared setup, once per cold start: settings and one EC2 client per region.
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::BULK).await;
    let setup = Settings::from_lookup(|name| std::env::var(name).ok())
        .map_err(|e| e.to_string())
        .and_then(|settings| {
            let clients = regional_clients(&config, &settings)?;
            Ok((settings, clients))
        });
    let setup = &setup;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload<Value>>| async move {
        let (settings, clients) = setup
            .as_ref()
            .map_err(|e| FunctionError::InvalidSettings(e.clone()))?;
        // A payload the runtime cannot read (nested too deeply, …) is a bad event too.
        let result: Result<Report, FunctionError> = match event.payload.into_result() {
            Ok(payload) => handler::handle(&payload, settings, clients, chrono::Utc::now()).await,
            Err(why) => Err(FunctionError::InvalidEvent(EventError::Unreadable(why))),
        };
        if let Err(error) = &result {
            tracing::error!(error_type = error.error_type(), error = %error, "invocation failed");
        }
        result
    }))
    .await
}
