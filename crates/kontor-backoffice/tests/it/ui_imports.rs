//! The Back Office's import pages through a browser-like client: who may use them, the upload form's
//! checks with the message next to the field, a started job's page and its error report download,
//! and a backend without imports.
//!
//! The real runner lives in the binary (`kontor::imports`, tested there over SQLite with the real
//! importer); this crate cannot reach it, so the pages are driven here by [`RecordingRunner`], which
//! keeps what it was given and answers with one fixed job per upload.

use crate::ui_support::{Browser, Page, UiApp};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use axum::http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kontor_backoffice::ui::imports::{
    ImportDataSet, ImportJob, ImportJobId, ImportRunner, ImportStartError, ImportState, ImportUpload,
};
use kontor_db::SqlDatabase;
use kontor_testkit::repo_test_suite;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const REPORT: &str = "tax_set_name,country_name,error\nStandard,Nowhere,country_name: unknown\n";

/// A runner that records uploads; every upload becomes a finished job with one rejected row.
#[derive(Default)]
struct RecordingRunner {
    uploads: Mutex<Vec<ImportUpload>>,
}

impl RecordingRunner {
    fn uploads(&self) -> Vec<ImportUpload> {
        self.uploads.lock().expect("uploads").clone()
    }

    fn job_of(number: usize, upload: &ImportUpload) -> ImportJob {
        ImportJob {
            id: ImportJobId::parse(&format!("job-{number}")).expect("an id"),
            file_name: upload.file_name.clone(),
            data_entity: upload.data_entity.clone(),
            started_by: upload.started_by.clone(),
            started_at: chrono::Utc::now(),
            finished_at: Some(chrono::Utc::now()),
            state: ImportState::Done,
            processed: 2,
            total: Some(2),
            data_sets: vec![ImportDataSet {
                name: "tax".to_owned(),
                rows: 2,
                inserted: 1,
                rejected: 1,
                warnings: vec!["tax.csv: column \"note\" is not used by Kontor, skipped".to_owned()],
                ..ImportDataSet::default()
            }],
            skipped: Vec::new(),
            error: None,
            has_report: true,
        }
    }
}

#[async_trait]
impl ImportRunner for RecordingRunner {
    fn data_entities(&self) -> Vec<&'static str> {
        vec!["tax", "product-abstract"]
    }

    async fn start(&self, upload: ImportUpload) -> Result<ImportJobId, ImportStartError> {
        if upload.file_name.starts_with("refused") {
            return Err(ImportStartError::Invalid {
                field: "file",
                message: "The recipe names files that are not on the server.".to_owned(),
            });
        }
        let mut uploads = self.uploads.lock().expect("uploads");
        uploads.push(upload);
        Ok(ImportJobId::parse(&format!("job-{}", uploads.len())).expect("an id"))
    }

    async fn jobs(&self) -> Vec<ImportJob> {
        let uploads = self.uploads();
        let mut jobs: Vec<ImportJob> = uploads
            .iter()
            .enumerate()
            .map(|(index, upload)| Self::job_of(index + 1, upload))
            .collect();
        jobs.reverse();
        jobs
    }

    async fn job(&self, id: &ImportJobId) -> Option<ImportJob> {
        self.jobs().await.into_iter().find(|job| job.id == *id)
    }

    async fn report(&self, id: &ImportJobId) -> Option<Vec<u8>> {
        self.job(id).await.map(|_| REPORT.as_bytes().to_vec())
    }
}

/// One part of a multipart form: name, file name (for a file) and content.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// Sends `parts` as a `multipart/form-data` POST from `browser`, with the CSRF token in the URL as the
/// page's form does (unless `with_token` is false).
async fn post_multipart(app: &UiApp, browser: &Browser, parts: &[Part<'_>], with_token: bool) -> Page {
    let mut body = Vec::new();
    for (name, file_name, content) in parts {
        let disposition = match file_name {
            Some(file_name) => format!("form-data; name=\"{name}\"; filename=\"{file_name}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(format!("--b0undary\r\nContent-Disposition: {disposition}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b0undary--\r\n");
    let path = if with_token {
        let token = browser.csrf_token().expect("a page with a form was seen");
        format!("/backoffice/imports?_csrf={token}")
    } else {
        "/backoffice/imports".to_owned()
    };
    let request = Request::post(path)
        .header(CONTENT_TYPE, "multipart/form-data; boundary=b0undary")
        .header(COOKIE, browser.cookie_header())
        .body(Body::from(body))
        .expect("request");
    let response = app.router().oneshot(request).await.expect("infallible");
    let (page, _) = page_of(response).await;
    page
}

/// A response as a [`Page`], with its headers.
async fn page_of(response: Response<Body>) -> (Page, axum::http::HeaderMap) {
    let status = response.status();
    let headers = response.headers().clone();
    let location = headers
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let page = Page {
        status,
        location,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    (page, headers)
}

fn assert_status(page: &Page, status: StatusCode, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
}

async fn app_with_runner(db: SqlDatabase) -> (UiApp, Arc<RecordingRunner>) {
    let runner = Arc::new(RecordingRunner::default());
    let port: Arc<dyn ImportRunner> = runner.clone();
    let app = UiApp::with_state(db, move |state| state.with_imports(port)).await;
    (app, runner)
}

async fn imports_need_imports_run(db: SqlDatabase) {
    let (app, _) = app_with_runner(db).await;
    let catalog = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    let page = catalog.get("/backoffice/imports").await;
    assert_status(&page, StatusCode::OK, "a catalog manager's import page");
    assert!(page.body.contains("id=\"f-file\""), "{}", page.body);
    assert!(
        page.body.contains("<option value=\"product-abstract\">"),
        "{}",
        page.body
    );
    assert!(page.shows("No imports yet."), "{}", page.body);

    let orders = app.signed_in("orders@example.com", &["order_manager"]).await;
    for path in [
        "/backoffice/imports",
        "/backoffice/imports/job-1",
        "/backoffice/imports/job-1/report",
    ] {
        assert_status(&orders.get(path).await, StatusCode::FORBIDDEN, path);
    }
    let dashboard = orders.get("/backoffice").await;
    assert!(
        !dashboard.body.contains("href=\"/backoffice/imports\""),
        "no Imports in an order manager's navigation"
    );
}

async fn uploads_are_checked_then_started(db: SqlDatabase) {
    let (app, runner) = app_with_runner(db).await;
    let browser = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    browser.get("/backoffice/imports").await;

    let without_file = post_multipart(&app, &browser, &[("data_entity", None, b"tax")], true).await;
    assert_status(&without_file, StatusCode::UNPROCESSABLE_ENTITY, "no file");
    assert_eq!(
        without_file.field_error("file").as_deref(),
        Some("Choose a CSV file or a recipe to upload.")
    );
    let without_entity = post_multipart(
        &app,
        &browser,
        &[("file", Some("tax.csv"), b"a,b\n1,2\n"), ("data_entity", None, b"")],
        true,
    )
    .await;
    assert_status(
        &without_entity,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a CSV without entity",
    );
    assert_eq!(
        without_entity.field_error("data_entity").as_deref(),
        Some("Choose the data entity this CSV file holds.")
    );
    let spreadsheet = post_multipart(&app, &browser, &[("file", Some("tax.xlsx"), b"PK")], true).await;
    assert_eq!(
        spreadsheet.field_error("file").as_deref(),
        Some("Upload a .csv file or a .yml recipe.")
    );
    let refused = post_multipart(&app, &browser, &[("file", Some("refused.yml"), b"actions: []")], true).await;
    assert_status(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a recipe the runner refuses",
    );
    assert_eq!(
        refused.field_error("file").as_deref(),
        Some("The recipe names files that are not on the server.")
    );
    let without_token = post_multipart(&app, &browser, &[("file", Some("tax.csv"), b"a")], false).await;
    assert_status(
        &without_token,
        StatusCode::FORBIDDEN,
        "an upload without the CSRF token",
    );
    assert!(runner.uploads().is_empty(), "nothing refused reached the runner");

    let csv = b"tax_set_name,country_name,tax_rate_name,tax_rate_percent\nStandard,DE,DE Std,19\n";
    let started = post_multipart(
        &app,
        &browser,
        &[
            ("data_entity", None, b"tax"),
            ("file", Some("C:\\exports\\tax.csv"), csv),
        ],
        true,
    )
    .await;
    assert_status(&started, StatusCode::SEE_OTHER, "a CSV with its entity");
    assert_eq!(started.location.as_deref(), Some("/backoffice/imports/job-1"));
    let uploads = runner.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(
        (
            uploads[0].file_name.as_str(),
            uploads[0].data_entity.as_deref(),
            uploads[0].started_by.as_str(),
            uploads[0].bytes.as_slice()
        ),
        ("tax.csv", Some("tax"), "catalog@example.com", &csv[..])
    );

    let job = browser.get("/backoffice/imports/job-1").await;
    assert_status(&job, StatusCode::OK, "the job page");
    assert!(
        job.shows("The import of tax.csv has started."),
        "the flash: {}",
        job.body
    );
    assert!(
        job.body.contains("data-import=\"job-1\""),
        "live progress: {}",
        job.body
    );
    assert!(
        job.body.contains("href=\"/backoffice/imports/job-1/report\""),
        "{}",
        job.body
    );
    assert!(
        job.shows("column \"note\" is not used by Kontor"),
        "warnings: {}",
        job.body
    );
    let list = browser.get("/backoffice/imports").await;
    assert!(list.body.contains("data-import=\"job-1\""), "{}", list.body);

    let request = Request::get("/backoffice/imports/job-1/report")
        .header(COOKIE, browser.cookie_header())
        .body(Body::empty())
        .expect("request");
    let (report, headers) = page_of(app.router().oneshot(request).await.expect("infallible")).await;
    assert_status(&report, StatusCode::OK, "the report");
    assert_eq!(report.body, REPORT);
    assert_eq!(headers[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        headers[CONTENT_DISPOSITION],
        "attachment; filename=\"import-job-1-errors.csv\""
    );

    assert_status(
        &browser.get("/backoffice/imports/job-9").await,
        StatusCode::NOT_FOUND,
        "an unknown job",
    );
    assert_status(
        &browser.get("/backoffice/imports/..%2Fetc/report").await,
        StatusCode::NOT_FOUND,
        "not a job id",
    );
}

async fn without_a_runner_imports_are_not_available(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let browser = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    let page = browser.get("/backoffice/imports").await;
    assert_status(&page, StatusCode::OK, "the page without a runner");
    assert!(
        page.shows("Imports are not available on this backend."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"f-file\""), "no upload form");
    let upload = post_multipart(&app, &browser, &[("file", Some("tax.csv"), b"a")], true).await;
    assert_status(&upload, StatusCode::SERVICE_UNAVAILABLE, "an upload without a runner");
    assert!(
        upload.shows("Imports are not available on this backend."),
        "{}",
        upload.body
    );
}

repo_test_suite!(
    imports_need_imports_run,
    uploads_are_checked_then_started,
    without_a_runner_imports_are_not_available,
);
