//! An AWS endpoint stand-in at the HTTP layer, for unit tests of calls whose answers moto cannot
//! give (a lost answer, an error moto never sends): every request goes to a function that answers
//! with a status and a body, and is recorded. Only with the `fake-aws` feature, which the crates
//! that test against it enable as a dev-dependency, so no function ships it.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;

type Answer = dyn Fn(&str, &str) -> (u16, String) + Send + Sync;

#[derive(Clone)]
/// The stand-in: answers every request with what `answer` says, and keeps each request.
pub struct FakeAws {
    answer: Arc<Answer>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeAws {
    /// `answer("METHOD uri", body)` gives the status and body of the answer.
    pub fn new(answer: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static) -> FakeAws {
        FakeAws {
            answer: Arc::new(answer),
            requests: Arc::default(),
        }
    }

    /// Every request so far, as `METHOD uri body`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl std::fmt::Debug for FakeAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeAws")
    }
}

impl HttpConnector for FakeAws {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let line = format!("{} {}", request.method(), request.uri());
        if let Ok(mut requests) = self.requests.lock() {
            requests.push(format!("{line} {body}"));
        }
        let (status, text) = (self.answer)(&line, &body);
        let status = StatusCode::try_from(status).expect("tests answer with valid statuses");
        HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(text))))
    }
}

impl HttpClient for FakeAws {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.clone().into_shared()
    }
}
