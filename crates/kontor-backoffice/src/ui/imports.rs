//! Data imports in the Back Office (imports.run for every page): upload a Spryker CSV file or a recipe,
//! follow the job live, download the rows that were rejected.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/imports` | the upload form and the recent jobs with live progress |
//! | POST | `/backoffice/imports?_csrf=` | multipart upload (`file`, `data_entity`); starts a job, redirects to it |
//! | GET | `/backoffice/imports/{id}` | one job: state, progress, a summary per data set, warnings |
//! | GET | `/backoffice/imports/{id}/report` | the job's error report (rejected rows and why) as a CSV download |
//!
//! The pages work on the [`ImportRunner`] port: this crate knows neither the importer nor the database,
//! the binary plugs the real runner in with [`AdminState::with_imports`]. A backend without one says
//! so on the page (and answers an upload with 503). Progress reaches open pages as `import.progress`
//! notifications on the [`IMPORTS_CHANNEL`](super::ws::IMPORTS_CHANNEL), which the runner publishes and
//! `/backoffice/ws` forwards to the elements `[data-import="<job id>"]`.
//!
//! An upload is one file: a `.csv` in Spryker's layout together with the data entity it holds, or a
//! `.yml`/`.yaml` recipe whose sources the runner finds on the server. The form is read with axum's
//! multipart parser by `ui::multipart`, as the image upload's is.

use super::multipart::{MultipartRefused, UploadedFile, read_form};
use super::{Layout, flash, render};
use crate::acl::{AuditDetail, GuardedRouter, Principal};
use crate::state::AdminState;
use async_trait::async_trait;
use axum::Extension;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use kontor_domain::acl::Permission;
use kontor_web::html::{CsrfToken, FormErrors, Session};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/imports", Permission::ImportsRun, list)
        .post("/backoffice/imports", Permission::ImportsRun, upload)
        .get("/backoffice/imports/{id}", Permission::ImportsRun, show)
        .get("/backoffice/imports/{id}/report", Permission::ImportsRun, report)
}

/// The largest file accepted: the upload is held in memory until the runner has stored it.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The id of an import job: lower-case letters, digits and `-`, at most 64 of them, so that it is safe
/// in a URL, a file name and an HTML attribute alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ImportJobId(String);

impl ImportJobId {
    pub const MAX_LENGTH: usize = 64;

    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LENGTH
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ImportJobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file handed to the runner.
#[derive(Debug, Clone)]
pub struct ImportUpload {
    /// As the browser named it, without any directory.
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// The Spryker data entity of a single CSV file (`product-abstract`); `None` for a recipe.
    pub data_entity: Option<String>,
    /// The e-mail address of the user who started the import.
    pub started_by: String,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportState {
    /// Waiting for the job before it to finish.
    Queued,
    Running,
    /// Every data set ran; rows may have been rejected (see the report).
    Done,
    /// A data set could not be imported at all (its header, the recipe, the database); see `error`.
    Failed,
}

impl ImportState {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }
}

/// What one data set of a job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportDataSet {
    /// The data entity (`product-abstract`).
    pub name: String,
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Notes that did not stop the import (`file:line: column: reason`).
    pub warnings: Vec<String>,
}

/// An import job as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportJob {
    pub id: ImportJobId,
    pub file_name: String,
    /// `None` for a recipe.
    pub data_entity: Option<String>,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub state: ImportState,
    /// Rows handled so far, over all data sets.
    pub processed: u64,
    /// Rows in the job's files, once counted; an estimate until the job is done.
    pub total: Option<u64>,
    /// The data sets finished so far, in the order they ran.
    pub data_sets: Vec<ImportDataSet>,
    /// Recipe steps of data entities Kontor does not import (yet).
    pub skipped: Vec<String>,
    /// Why the job failed, in words for the user.
    pub error: Option<String>,
    /// Whether rows were rejected, so that [`ImportRunner::report`] has a report.
    pub has_report: bool,
}

/// Why an upload was not started.
#[derive(Debug, thiserror::Error)]
pub enum ImportStartError {
    /// The upload cannot be imported as it is; the message goes next to `field` (`file`,
    /// `data_entity`, or [`FORM`](kontor_web::html::forms::FORM) for the form as a whole).
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The runner could not take the job (storage); the detail is logged, never shown.
    #[error("the import could not be started: {0}")]
    Unavailable(String),
}

/// Runs imports in the background and remembers the recent jobs: the port the binary implements.
#[async_trait]
pub trait ImportRunner: Send + Sync {
    /// The data entities a single CSV file may hold, in import order (for the form's choice).
    fn data_entities(&self) -> Vec<&'static str>;
    /// Checks and stores the upload and starts its job.
    async fn start(&self, upload: ImportUpload) -> Result<ImportJobId, ImportStartError>;
    /// The recent jobs, newest first.
    async fn jobs(&self) -> Vec<ImportJob>;
    async fn job(&self, id: &ImportJobId) -> Option<ImportJob>;
    /// The error report of a job as CSV: every rejected row with its error. `None` when the job is
    /// unknown or rejected nothing.
    async fn report(&self, id: &ImportJobId) -> Option<Vec<u8>>;
}

/// The upload form and the jobs list share one template; this is what it shows.
#[derive(Debug, Serialize)]
struct ListPage {
    available: bool,
    entities: Vec<&'static str>,
    jobs: Vec<ImportJob>,
    values: BTreeMap<String, String>,
    errors: FormErrors,
    max_upload_mb: usize,
}

impl ListPage {
    fn unavailable() -> Self {
        Self {
            available: false,
            entities: Vec::new(),
            jobs: Vec::new(),
            values: BTreeMap::new(),
            errors: FormErrors::new(),
            max_upload_mb: MAX_UPLOAD_BYTES / (1024 * 1024),
        }
    }

    async fn of(runner: &dyn ImportRunner, values: BTreeMap<String, String>, errors: FormErrors) -> Self {
        Self {
            available: true,
            entities: runner.data_entities(),
            jobs: runner.jobs().await,
            values,
            errors,
            ..Self::unavailable()
        }
    }
}

const LIST_TEMPLATE: &str = "backoffice/imports.html";
const NOT_AVAILABLE: &str = "Imports are not available on this backend.";

async fn list(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let page = match state.imports.as_deref() {
        Some(runner) => ListPage::of(runner, BTreeMap::new(), FormErrors::new()).await,
        None => ListPage::unavailable(),
    };
    render(&state, StatusCode::OK, LIST_TEMPLATE, &layout, page)
}

/// A page with one message (`title`, `message`) and the given status.
fn message_page(state: &AdminState, layout: &Layout, status: StatusCode, title: &str, message: &str) -> Response {
    render(
        state,
        status,
        "backoffice/imports_message.html",
        layout,
        json!({"title": title, "message": message}),
    )
}

fn job_not_found(state: &AdminState, layout: &Layout) -> Response {
    let message = if state.imports.is_some() {
        "There is no such import job. Jobs are remembered until the backend restarts."
    } else {
        NOT_AVAILABLE
    };
    message_page(state, layout, StatusCode::NOT_FOUND, "Import not found", message)
}

async fn show(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let (Some(runner), Some(id)) = (state.imports.as_deref(), ImportJobId::parse(&raw_id)) else {
        return job_not_found(&state, &layout);
    };
    match runner.job(&id).await {
        Some(job) => render(
            &state,
            StatusCode::OK,
            "backoffice/imports_show.html",
            &layout,
            json!({"job": job}),
        ),
        None => job_not_found(&state, &layout),
    }
}

async fn report(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
) -> Response {
    let csv = match (state.imports.as_deref(), ImportJobId::parse(&raw_id)) {
        (Some(runner), Some(id)) => runner.report(&id).await.map(|csv| (id, csv)),
        _ => None,
    };
    let Some((id, csv)) = csv else {
        // Only a page takes the session's flash message; a download leaves it for the next page.
        let layout = Layout::new(&principal, &session, &csrf, uri.path());
        if state.imports.is_none() {
            return job_not_found(&state, &layout);
        }
        let message = "This import has no error report: no row was rejected, or the job is unknown.";
        return message_page(&state, &layout, StatusCode::NOT_FOUND, "No error report", message);
    };
    // The id is `[a-z0-9-]`, so it needs no quoting rules beyond the quotes themselves.
    let disposition = format!("attachment; filename=\"import-{id}-errors.csv\"");
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, disposition),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            // Rejected rows are shop data: not for shared caches.
            (CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        csv,
    )
        .into_response()
}

/// What the browser sent, before it is checked against the runner's entities.
#[derive(Debug, Default)]
struct UploadForm {
    file: Option<UploadedFile>,
    data_entity: String,
}

/// Why the form could not be taken: the status and the message next to a field.
#[derive(Debug)]
struct FormRefused {
    status: StatusCode,
    field: &'static str,
    message: String,
}

impl FormRefused {
    fn unprocessable(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field,
            message: message.into(),
        }
    }
}

/// What kind of import a file name asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UploadKind {
    Csv,
    Recipe,
}

fn upload_kind(file_name: &str) -> Option<UploadKind> {
    let (_, extension) = file_name.rsplit_once('.')?;
    match extension.to_ascii_lowercase().as_str() {
        "csv" => Some(UploadKind::Csv),
        "yml" | "yaml" => Some(UploadKind::Recipe),
        _ => None,
    }
}

/// The upload checked against what the runner imports: a CSV file with one of `entities`, or a recipe.
fn checked_upload(form: UploadForm, entities: &[&str], started_by: &str) -> Result<ImportUpload, FormRefused> {
    let Some(file) = form.file.filter(|file| !file.content.is_empty()) else {
        return Err(FormRefused::unprocessable(
            "file",
            "Choose a CSV file or a recipe to upload.",
        ));
    };
    let file_name = base_name(&file.file_name);
    let data_entity = match upload_kind(&file_name) {
        Some(UploadKind::Csv) if form.data_entity.is_empty() => {
            return Err(FormRefused::unprocessable(
                "data_entity",
                "Choose the data entity this CSV file holds.",
            ));
        }
        Some(UploadKind::Csv) if !entities.contains(&form.data_entity.as_str()) => {
            return Err(FormRefused::unprocessable(
                "data_entity",
                "Choose one of the listed data entities.",
            ));
        }
        Some(UploadKind::Csv) => Some(form.data_entity),
        // A recipe names the data entity of each of its files itself.
        Some(UploadKind::Recipe) => None,
        None => {
            return Err(FormRefused::unprocessable(
                "file",
                "Upload a .csv file or a .yml recipe.",
            ));
        }
    };
    Ok(ImportUpload {
        file_name,
        bytes: file.content,
        data_entity,
        started_by: started_by.to_owned(),
    })
}

/// The last segment of a file name a browser sent (old browsers send the whole client path).
fn base_name(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars()
        .filter(|character| !character.is_control())
        .take(200)
        .collect()
}

async fn read_upload_form(request: Request) -> Result<UploadForm, FormRefused> {
    let mut form = read_form(request, MAX_UPLOAD_BYTES)
        .await
        .map_err(|refusal| match refusal {
            MultipartRefused::NotMultipart => FormRefused::unprocessable("file", "Send the file with the upload form."),
            MultipartRefused::TooLarge => FormRefused {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                field: "file",
                message: format!("The file is larger than {} MB.", MAX_UPLOAD_BYTES / (1024 * 1024)),
            },
            MultipartRefused::Unreadable => FormRefused::unprocessable("file", "The upload could not be read."),
        })?;
    Ok(UploadForm {
        file: form.take_file("file"),
        data_entity: form.field("data_entity").to_owned(),
    })
}

async fn upload(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    request: Request,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let Some(runner) = state.imports.as_deref() else {
        return message_page(
            &state,
            &layout,
            StatusCode::SERVICE_UNAVAILABLE,
            "Imports",
            NOT_AVAILABLE,
        );
    };
    let form = read_upload_form(request).await;
    let data_entity = form.as_ref().map(|form| form.data_entity.clone()).unwrap_or_default();
    let checked = form.and_then(|form| checked_upload(form, &runner.data_entities(), &principal.user.email));
    let upload = match checked {
        Ok(upload) => upload,
        Err(refused) => return refused_form(&state, runner, &layout, refused, data_entity).await,
    };
    let file_name = upload.file_name.clone();
    let mut detail =
        json!({"import": {"file": file_name, "dataEntity": upload.data_entity, "size": upload.bytes.len()}});
    match runner.start(upload).await {
        Ok(id) => {
            tracing::info!(job = %id, file = %file_name, user_id = principal.user.id.0, "import started");
            flash(&session, "success", format!("The import of {file_name} has started."));
            detail["import"]["job"] = json!(id);
            let mut response = Redirect::to(&format!("/backoffice/imports/{id}")).into_response();
            response.extensions_mut().insert(AuditDetail(detail));
            response
        }
        Err(ImportStartError::Invalid { field, message }) => {
            let refused = FormRefused::unprocessable(field, message);
            refused_form(&state, runner, &layout, refused, data_entity).await
        }
        Err(error @ ImportStartError::Unavailable(_)) => kontor_web::AppError::internal(&error).into_response(),
    }
}

/// The form again with the message next to its field and the data entity that was chosen (a browser
/// cannot be given the file back).
async fn refused_form(
    state: &AdminState,
    runner: &dyn ImportRunner,
    layout: &Layout,
    refused: FormRefused,
    data_entity: String,
) -> Response {
    let mut errors = FormErrors::new();
    errors.add(refused.field, refused.message);
    let values = BTreeMap::from([("data_entity".to_owned(), data_entity)]);
    let page = ListPage::of(runner, values, errors).await;
    render(state, refused.status, LIST_TEMPLATE, layout, page)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTITIES: &[&str] = &["tax", "product-abstract"];

    fn form(file_name: &str, content: &[u8], data_entity: &str) -> UploadForm {
        UploadForm {
            file: Some(UploadedFile {
                field: "file".to_owned(),
                file_name: file_name.to_owned(),
                content: content.to_vec(),
            }),
            data_entity: data_entity.to_owned(),
        }
    }

    fn refusal(result: Result<ImportUpload, FormRefused>) -> (&'static str, String) {
        match result {
            Ok(upload) => panic!("accepted: {upload:?}"),
            Err(refused) => (refused.field, refused.message),
        }
    }

    #[test]
    fn only_the_base_name_of_a_client_path_is_kept() {
        assert_eq!(base_name("C:\\data\\tax.csv"), "tax.csv");
        assert_eq!(base_name("/home/me/shop.yml"), "shop.yml");
        assert_eq!(base_name("tax\u{0}\n.csv"), "tax.csv");
    }

    #[test]
    fn a_csv_needs_a_known_data_entity_and_a_recipe_none() {
        let accepted = checked_upload(form("tax.CSV", b"x", "tax"), ENTITIES, "a@example.com").expect("a CSV");
        assert_eq!(accepted.data_entity.as_deref(), Some("tax"));
        let recipe = checked_upload(form("shop.yaml", b"x", "tax"), ENTITIES, "a@example.com").expect("a recipe");
        assert_eq!(recipe.data_entity, None);
        assert_eq!(
            refusal(checked_upload(form("tax.csv", b"x", ""), ENTITIES, "")).0,
            "data_entity"
        );
        assert_eq!(
            refusal(checked_upload(form("tax.csv", b"x", "stock"), ENTITIES, "")).0,
            "data_entity"
        );
        assert_eq!(
            refusal(checked_upload(form("tax.xlsx", b"x", "tax"), ENTITIES, "")).1,
            "Upload a .csv file or a .yml recipe."
        );
        assert_eq!(
            refusal(checked_upload(form("tax.csv", b"", "tax"), ENTITIES, "")).0,
            "file"
        );
        assert_eq!(refusal(checked_upload(UploadForm::default(), ENTITIES, "")).0, "file");
    }

    #[test]
    fn job_ids_are_safe_in_paths_and_markup() {
        assert!(ImportJobId::parse("20260101-120000-0a1b2c").is_some());
        for bad in ["", "../x", "A", "a b", "a\"", &"a".repeat(65)] {
            assert_eq!(ImportJobId::parse(bad), None, "{bad}");
        }
    }
}
