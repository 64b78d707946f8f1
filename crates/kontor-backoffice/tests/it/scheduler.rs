//! `GET /admin/scheduler/runs`: the run history behind the admin token (refused without a token or with a
//! wrong one), on every SQL backend, with runs recorded by a real scheduler.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kontor_backoffice::{AdminState, router};
use kontor_core::SystemClock;
use kontor_db::SqlDatabase;
use kontor_queue::scheduler::{
    JobContext, JobError, JobRegistry, JobSpec, RunHistory, Schedule, Scheduler, SchedulerOptions,
};
use kontor_testkit::repo_test_suite;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

async fn get(router: &Router, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Two jobs run by hand: one succeeds, one fails.
async fn record_runs(db: &SqlDatabase) {
    let mut registry = JobRegistry::new();
    registry.register_fn("greet", |_context: JobContext| async move { Ok("hello".to_owned()) });
    registry.register_fn("fail", |_context: JobContext| async move {
        Err(JobError::new("out of coffee"))
    });
    let schedule = || Schedule::new("0 3 * * *", "Europe/Berlin").expect("valid");
    let scheduler = Scheduler::new(
        db.connection().clone(),
        vec![
            JobSpec::new("greeting", schedule(), "greet"),
            JobSpec::new("breaking", schedule(), "fail"),
        ],
        registry,
        Arc::new(SystemClock),
        SchedulerOptions::new("node-test"),
    )
    .expect("scheduler");
    scheduler.run_now("greeting").await.expect("run");
    scheduler.run_now("breaking").await.expect("run");
}

async fn the_run_history_is_listed_for_admins_only(db: SqlDatabase) {
    let token = kontor_testkit::admin_token(&db, "ops@example.com", &["administrator"]).await;
    let router = router(AdminState::new(Arc::new(db.clone())).with_scheduler(RunHistory::new(db.connection().clone())));
    record_runs(&db).await;

    // The admin API's convention (auth.rs): no token 403/002, a wrong one 401/001.
    let (status, body) = get(&router, "/admin/scheduler/runs", None).await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (StatusCode::FORBIDDEN, &Value::from("002"))
    );
    assert!(body.get("data").is_none(), "{body}");
    let (status, body) = get(&router, "/admin/scheduler/runs", Some("not-a-token")).await;
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (StatusCode::UNAUTHORIZED, &Value::from("001"))
    );

    let (status, body) = get(&router, "/admin/scheduler/runs", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["count"], 2, "{body}");
    let newest = &body["data"][0];
    assert_eq!(newest["type"], "scheduler-runs");
    assert_eq!(newest["attributes"]["job"], "breaking");
    assert_eq!(newest["attributes"]["outcome"], "failed");
    assert_eq!(newest["attributes"]["error"], "out of coffee");
    assert_eq!(newest["attributes"]["node"], "node-test");
    assert!(newest["attributes"]["scheduledFor"].is_null(), "run by hand: {newest}");
    assert!(newest["attributes"]["finishedAt"].is_string(), "{newest}");

    let (status, body) = get(&router, "/admin/scheduler/runs?job=greeting&limit=5", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 1, "{body}");
    assert_eq!(data[0]["attributes"]["outcome"], "succeeded");
    assert_eq!(data[0]["attributes"]["output"], "hello");
    assert_eq!(data[0]["attributes"]["command"], "greet");

    let (status, body) = get(&router, "/admin/scheduler/runs?limit=1", Some(&token)).await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );

    let (status, body) = get(&router, "/admin/scheduler/runs?limit=0", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["source"]["parameter"], "limit", "{body}");
    let (status, body) = get(&router, "/admin/scheduler/runs?jobs=x", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["source"]["parameter"], "jobs", "{body}");
}

repo_test_suite!(the_run_history_is_listed_for_admins_only);
