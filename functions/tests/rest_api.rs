//! The worker API behind API Gateway's private REST API (infra/template.yaml, `WorkerApi`):
//! its events name a stage ("private"), which must not reach the router as part of the path.
//! Its own test binary: it sets the variable the template sets, for the whole process.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use tower::ServiceExt;

/// A REST API (payload 1.0) proxy event for `GET /worker/health` on stage `private`.
const EVENT: &str = r#"{
  "resource": "/worker/{proxy+}",
  "path": "/worker/health",
  "httpMethod": "GET",
  "headers": {"Host": "abc123-vpce-0123.execute-api.eu-west-1.amazonaws.com"},
  "multiValueHeaders": {"Host": ["abc123-vpce-0123.execute-api.eu-west-1.amazonaws.com"]},
  "queryStringParameters": null,
  "multiValueQueryStringParameters": null,
  "pathParameters": {"proxy": "health"},
  "stageVariables": null,
  "requestContext": {
    "accountId": "123456789012",
    "resourceId": "abc",
    "stage": "private",
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "identity": {"sourceIp": "10.0.1.20", "vpceId": "vpce-0123"},
    "resourcePath": "/worker/{proxy+}",
    "httpMethod": "GET",
    "apiId": "abc123",
    "path": "/private/worker/health"
  },
  "body": null,
  "isBase64Encoded": false
}"#;

fn to_axum(req: lambda_http::Request) -> axum::http::Request<axum::body::Body> {
    req.map(|b| axum::body::Body::from(b.to_vec()))
}

#[test]
fn rest_api_events_reach_the_worker_routes_without_their_stage() {
    // As lambda_http reads it by default: the stage in front of the path.
    let default = lambda_http::request::from_str(EVENT).unwrap();
    assert_eq!(default.uri().path(), "/private/worker/health");
    // SAFETY: set before this process starts any other thread (the runtime comes after).
    unsafe { std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true") };
    let routed = lambda_http::request::from_str(EVENT).unwrap();
    assert_eq!(routed.uri().path(), "/worker/health");

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let t = TestApp::new().await;
            // The route exists (it wants a worker token) only without the stage.
            let res = t.worker.clone().oneshot(to_axum(routed)).await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            let res = t.worker.clone().oneshot(to_axum(default)).await.unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND);
        });
}
