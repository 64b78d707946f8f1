//! Users & roles of the Back Office: viewing needs users.read, every change users.manage.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/users?page=` | users with their roles, paged |
//! | GET, POST | `/backoffice/users/new`, `/backoffice/users` | create a user (e-mail, password, roles) |
//! | GET | `/backoffice/users/{id}` | one user: roles, active or not |
//! | POST | `/backoffice/users/{id}/roles` | replace the user's roles |
//! | POST | `/backoffice/users/{id}/active` | `active=true\|false`; never for oneself |
//! | GET | `/backoffice/roles` | roles with their permissions |
//! | GET, POST | `/backoffice/roles/new`, `/backoffice/roles` | create a custom role |
//! | GET, POST | `/backoffice/roles/{name}` | view, change a custom role |
//! | POST | `/backoffice/roles/{name}/delete` | delete a custom role |
//!
//! Built-in roles are shown but refused any change (409): their permissions are defined in code
//! ([`kontor_domain::acl::BUILTIN_ROLES`]). A failed submission shows the form again with a message
//! next to each bad field and what was typed (never the password). A successful change redirects
//! (post/redirect/get) with a flash message, tells other editors of the same record
//! ([`super::ws::announce_change`]) and leaves its detail for the guard's audit entry.
//! Deactivating a user ends their sessions at their next request: every request reloads the user.

use super::audit::Pager;
use super::ws::announce_change;
use super::{Layout, flash, render};
use crate::acl::{AuditDetail, GuardedRouter, Principal};
use crate::state::AdminState;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kontor_core::ids::UserId;
use kontor_domain::DomainError;
use kontor_domain::acl::{Permission, PermissionSet, Role};
use kontor_domain::users::{Email, MIN_PASSWORD_LENGTH};
use kontor_web::html::forms::FORM;
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::Serialize;
use serde_json::json;

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/users", Permission::UsersRead, list_users)
        .get("/backoffice/users/new", Permission::UsersManage, new_user)
        .post("/backoffice/users", Permission::UsersManage, create_user)
        .get("/backoffice/users/{id}", Permission::UsersRead, show_user)
        .post(
            "/backoffice/users/{id}/roles",
            Permission::UsersManage,
            change_user_roles,
        )
        .post(
            "/backoffice/users/{id}/active",
            Permission::UsersManage,
            change_user_active,
        )
        .get("/backoffice/roles", Permission::UsersRead, list_roles)
        .get("/backoffice/roles/new", Permission::UsersManage, new_role)
        .post("/backoffice/roles", Permission::UsersManage, create_role)
        .get("/backoffice/roles/{name}", Permission::UsersRead, show_role)
        .post("/backoffice/roles/{name}", Permission::UsersManage, change_role)
        .post("/backoffice/roles/{name}/delete", Permission::UsersManage, delete_role)
}

/// Users per page of the list.
const PAGE_SIZE: u64 = 25;

/// A form as submitted: its fields, and its checkbox groups, whose name repeats once per checked box.
type Pairs = Vec<(String, String)>;

/// The single-valued fields of a form (a repeated name keeps its last value).
fn fields_of(pairs: &Pairs) -> FormFields {
    FormFields(pairs.iter().cloned().collect())
}

/// Every value of the repeated field `name`, trimmed, empty ones left out.
fn checked(pairs: &Pairs, name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(field, _)| field == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

/// A response carrying `detail` for the guard's audit entry of this request.
fn with_audit(mut response: Response, detail: serde_json::Value) -> Response {
    response.extensions_mut().insert(AuditDetail(detail));
    response
}

fn storage_error(error: DomainError) -> Response {
    kontor_web::AppError::from(error).into_response()
}

/// 409 for a taken name or address, 422 for anything else the user can fix.
fn status_of(error: &DomainError) -> StatusCode {
    match error {
        DomainError::Conflict { .. } => StatusCode::CONFLICT,
        DomainError::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The page of a user or role that does not exist.
fn not_found(state: &AdminState, layout: &Layout, message: String) -> Response {
    render(
        state,
        StatusCode::NOT_FOUND,
        "backoffice/users_not_found.html",
        layout,
        json!({"message": message}),
    )
}

/// A role as the templates show it.
#[derive(Debug, Serialize)]
struct RoleView {
    name: String,
    description: String,
    permissions: Vec<&'static str>,
    builtin: bool,
}

impl From<&Role> for RoleView {
    fn from(role: &Role) -> Self {
        Self {
            name: role.name.clone(),
            description: role.description.clone(),
            permissions: role.permissions.iter().map(Permission::as_str).collect(),
            builtin: role.builtin,
        }
    }
}

/// A permission checkbox of the role form.
#[derive(Debug, Serialize)]
struct PermissionChoice {
    name: &'static str,
    description: &'static str,
}

fn permission_choices() -> Vec<PermissionChoice> {
    Permission::ALL
        .iter()
        .map(|permission| PermissionChoice {
            name: permission.as_str(),
            description: permission.description(),
        })
        .collect()
}

// ---- users ----

#[derive(Debug, Serialize)]
struct UserRow {
    id: i64,
    email: String,
    is_active: bool,
    created_at: String,
    roles: Vec<String>,
    is_self: bool,
}

async fn list_users(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(query): Query<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let requested = Pager::new(Pager::number_from(&query), PAGE_SIZE, 0);
    let (users, total) = match state.acl.list_users(requested.offset(), PAGE_SIZE).await {
        Ok(found) => found,
        Err(error) => return storage_error(error),
    };
    let rows: Vec<UserRow> = users
        .into_iter()
        .map(|listed| UserRow {
            is_self: listed.user.id == principal.user.id,
            id: listed.user.id.0,
            email: listed.user.email,
            is_active: listed.user.is_active,
            created_at: listed.user.created_at.to_rfc3339(),
            roles: listed.roles,
        })
        .collect();
    let page =
        json!({"users": rows, "pager": Pager::new(requested.number, PAGE_SIZE, total), "base": "/backoffice/users"});
    render(&state, StatusCode::OK, "backoffice/users.html", &layout, page)
}

async fn new_user(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    user_form(
        &state,
        &layout,
        StatusCode::OK,
        &FormFields::default(),
        &[],
        &FormErrors::new(),
    )
    .await
}

/// The create-user form with what was typed and the messages of a failed attempt.
async fn user_form(
    state: &AdminState,
    layout: &Layout,
    status: StatusCode,
    fields: &FormFields,
    chosen_roles: &[String],
    errors: &FormErrors,
) -> Response {
    let roles = match state.acl.list_roles().await {
        Ok(roles) => roles,
        Err(error) => return storage_error(error),
    };
    let roles: Vec<RoleView> = roles.iter().map(RoleView::from).collect();
    let page = json!({
        "roles": roles, "checked": chosen_roles, "values": fields.echo(), "errors": errors,
        "min_password_length": MIN_PASSWORD_LENGTH,
    });
    render(state, status, "backoffice/users_new.html", layout, page)
}

async fn create_user(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Form(pairs): Form<Pairs>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, "/backoffice/users/new");
    let fields = fields_of(&pairs);
    let email = fields.text("email");
    let password = fields.0.get("password").cloned().unwrap_or_default();
    let role_names = checked(&pairs, "roles");
    // Every field is checked before anything is stored, so one submission shows every mistake.
    let mut errors = FormErrors::new();
    if email.is_empty() {
        errors.add("email", "Enter the user's e-mail address.");
    } else if Email::parse(&email).is_err() {
        errors.add("email", "This is not a valid e-mail address.");
    }
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        errors.add(
            "password",
            format!("The password must be at least {MIN_PASSWORD_LENGTH} characters long."),
        );
    }
    let roles = match state.acl.resolve_roles(&role_names).await {
        Ok(roles) => roles,
        Err(DomainError::Validation(_)) => {
            errors.add("roles", "Choose roles from the list.");
            Vec::new()
        }
        Err(error) => return storage_error(error),
    };
    if !errors.is_empty() {
        let response = user_form(
            &state,
            &layout,
            StatusCode::UNPROCESSABLE_ENTITY,
            &fields,
            &role_names,
            &errors,
        )
        .await;
        return with_audit(response, json!({"email": email, "invalid": errors}));
    }
    let user = match state.users.create_user(&email, &password).await {
        Ok(user) => user,
        Err(error) => {
            let errors = FormErrors::from_domain(&error);
            let response = user_form(&state, &layout, status_of(&error), &fields, &role_names, &errors).await;
            return with_audit(response, json!({"email": email, "invalid": errors}));
        }
    };
    let role_ids: Vec<_> = roles.iter().map(|role| role.id).collect();
    if let Err(error) = state.acl.set_user_roles(user.id, &role_ids).await {
        return storage_error(error);
    }
    flash(&session, "success", format!("User {} created.", user.email));
    let response = Redirect::to(&format!("/backoffice/users/{}", user.id)).into_response();
    with_audit(
        response,
        json!({"user": user.id, "email": user.email, "roles": role_names}),
    )
}

/// `{id}` of a user path; anything but a positive number cannot exist.
fn user_id(raw: &str) -> Option<UserId> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).map(UserId)
}

async fn show_user(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    user_page(&state, &layout, &principal, &raw_id, StatusCode::OK, &FormErrors::new()).await
}

/// One user's page: their roles as checkboxes, and the activation switch.
async fn user_page(
    state: &AdminState,
    layout: &Layout,
    principal: &Principal,
    raw_id: &str,
    status: StatusCode,
    errors: &FormErrors,
) -> Response {
    let found = match user_id(raw_id) {
        Some(id) => state.acl.find_user(id).await,
        None => Ok(None),
    };
    let user = match found {
        Ok(Some(user)) => user,
        Ok(None) => return not_found(state, layout, format!("There is no user {raw_id}.")),
        Err(error) => return storage_error(error),
    };
    let (all_roles, own_roles) = match (state.acl.list_roles().await, state.acl.roles_of(user.id).await) {
        (Ok(all), Ok(own)) => (all, own),
        (Err(error), _) | (_, Err(error)) => return storage_error(error),
    };
    let roles: Vec<RoleView> = all_roles.iter().map(RoleView::from).collect();
    let own: Vec<&str> = own_roles.iter().map(|role| role.name.as_str()).collect();
    let permissions: Vec<&str> = own_roles
        .iter()
        .fold(PermissionSet::empty(), |granted, role| granted.union(role.permissions))
        .iter()
        .map(Permission::as_str)
        .collect();
    let page = json!({
        "user": {
            "id": user.id.0, "email": user.email, "is_active": user.is_active,
            "created_at": user.created_at.to_rfc3339(), "is_self": user.id == principal.user.id,
        },
        "roles": roles, "checked": own, "permissions": permissions, "errors": errors,
        "record": format!("users:{}", user.id),
    });
    render(state, status, "backoffice/users_show.html", layout, page)
}

async fn change_user_roles(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Path(raw_id): Path<String>,
    Form(pairs): Form<Pairs>,
) -> Response {
    let page_path = format!("/backoffice/users/{raw_id}");
    let layout = Layout::new(&principal, &session, &csrf, &page_path);
    let user = match user_id(&raw_id) {
        Some(id) => state.acl.find_user(id).await,
        None => Ok(None),
    };
    let user = match user {
        Ok(Some(user)) => user,
        Ok(None) => return not_found(&state, &layout, format!("There is no user {raw_id}.")),
        Err(error) => return storage_error(error),
    };
    let role_names = checked(&pairs, "roles");
    let roles = match state.acl.resolve_roles(&role_names).await {
        Ok(roles) => roles,
        Err(DomainError::Validation(_)) => {
            let mut errors = FormErrors::new();
            errors.add("roles", "Choose roles from the list.");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return user_page(&state, &layout, &principal, &raw_id, status, &errors).await;
        }
        Err(error) => return storage_error(error),
    };
    let role_ids: Vec<_> = roles.iter().map(|role| role.id).collect();
    if let Err(error) = state.acl.set_user_roles(user.id, &role_ids).await {
        return storage_error(error);
    }
    announce_change(&state, &principal, &format!("users:{}", user.id)).await;
    flash(&session, "success", format!("The roles of {} were saved.", user.email));
    with_audit(
        Redirect::to(&page_path).into_response(),
        json!({"user": user.id, "email": user.email, "roles": role_names}),
    )
}

async fn change_user_active(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Path(raw_id): Path<String>,
    Form(fields): Form<FormFields>,
) -> Response {
    let page_path = format!("/backoffice/users/{raw_id}");
    let layout = Layout::new(&principal, &session, &csrf, &page_path);
    let user = match user_id(&raw_id) {
        Some(id) => state.acl.find_user(id).await,
        None => Ok(None),
    };
    let user = match user {
        Ok(Some(user)) => user,
        Ok(None) => return not_found(&state, &layout, format!("There is no user {raw_id}.")),
        Err(error) => return storage_error(error),
    };
    let mut errors = FormErrors::new();
    let active = match fields.text("active").as_str() {
        "true" => true,
        "false" => false,
        _ => {
            errors.add(FORM, "Choose whether the user is active.");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return user_page(&state, &layout, &principal, &raw_id, status, &errors).await;
        }
    };
    // Locking oneself out is never what was meant; another user manager can do it if it is.
    if user.id == principal.user.id {
        errors.add(FORM, "You cannot activate or deactivate your own account.");
        let response = user_page(&state, &layout, &principal, &raw_id, StatusCode::CONFLICT, &errors).await;
        return with_audit(
            response,
            json!({"user": user.id, "active": active, "refused": "own account"}),
        );
    }
    if let Err(error) = state.acl.set_user_active(user.id, active).await {
        return storage_error(error);
    }
    announce_change(&state, &principal, &format!("users:{}", user.id)).await;
    let message = if active {
        format!("{} can sign in again.", user.email)
    } else {
        format!("{} was deactivated and signed out.", user.email)
    };
    flash(&session, "success", message);
    with_audit(
        Redirect::to(&page_path).into_response(),
        json!({"user": user.id, "email": user.email, "active": active}),
    )
}

// ---- roles ----

async fn list_roles(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let roles = match state.acl.list_roles().await {
        Ok(roles) => roles,
        Err(error) => return storage_error(error),
    };
    let roles: Vec<RoleView> = roles.iter().map(RoleView::from).collect();
    render(
        &state,
        StatusCode::OK,
        "backoffice/roles.html",
        &layout,
        json!({"roles": roles}),
    )
}

/// What the role form shows: the role being edited (none when creating), typed values, checked
/// permissions and messages.
struct RoleForm<'a> {
    role: Option<&'a Role>,
    fields: &'a FormFields,
    permissions: &'a [String],
    errors: &'a FormErrors,
}

fn role_form(state: &AdminState, layout: &Layout, status: StatusCode, form: &RoleForm<'_>) -> Response {
    let mut values = form.fields.echo();
    if let Some(role) = form.role {
        values.entry("name".to_owned()).or_insert_with(|| role.name.clone());
        values
            .entry("description".to_owned())
            .or_insert_with(|| role.description.clone());
    }
    let page = json!({
        "role": form.role.map(RoleView::from),
        "record": form.role.map(|role| format!("roles:{}", role.name)),
        "choices": permission_choices(), "checked": form.permissions, "values": values, "errors": form.errors,
    });
    render(state, status, "backoffice/roles_form.html", layout, page)
}

async fn new_role(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let form = RoleForm {
        role: None,
        fields: &FormFields::default(),
        permissions: &[],
        errors: &FormErrors::new(),
    };
    role_form(&state, &layout, StatusCode::OK, &form)
}

/// The checked permissions, or a message for the `permissions` field naming the unknown one.
fn parse_permissions(names: &[String], errors: &mut FormErrors) -> PermissionSet {
    PermissionSet::parse_list(names).unwrap_or_else(|unknown| {
        errors.add("permissions", format!("{unknown}; choose permissions from the list."));
        PermissionSet::empty()
    })
}

async fn create_role(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Form(pairs): Form<Pairs>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, "/backoffice/roles/new");
    let fields = fields_of(&pairs);
    let names = checked(&pairs, "permissions");
    let name = fields.text("name");
    let description = fields.text("description");
    let mut errors = FormErrors::new();
    let permissions = parse_permissions(&names, &mut errors);
    let status = if errors.is_empty() {
        match state.acl.create_role(&name, &description, &permissions).await {
            Ok(role) => {
                flash(&session, "success", format!("Role {} created.", role.name));
                return with_audit(
                    Redirect::to(&format!("/backoffice/roles/{}", role.name)).into_response(),
                    json!({"role": role.name, "permissions": role.permissions}),
                );
            }
            Err(error @ DomainError::Storage(_)) => return storage_error(error),
            Err(error) => {
                errors = FormErrors::from_domain(&error);
                status_of(&error)
            }
        }
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let form = RoleForm {
        role: None,
        fields: &fields,
        permissions: &names,
        errors: &errors,
    };
    with_audit(
        role_form(&state, &layout, status, &form),
        json!({"role": name, "invalid": errors}),
    )
}

/// The role named in the path, or the response to send instead.
async fn find_role(state: &AdminState, layout: &Layout, name: &str) -> Result<Role, Response> {
    match state.acl.find_role(name).await {
        Ok(Some(role)) => Ok(role),
        Ok(None) => Err(not_found(state, layout, format!("There is no role {name}."))),
        Err(error) => Err(storage_error(error)),
    }
}

async fn show_role(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(name): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let role = match find_role(&state, &layout, &name).await {
        Ok(role) => role,
        Err(response) => return response,
    };
    let permissions: Vec<String> = role.permissions.iter().map(|p| p.as_str().to_owned()).collect();
    let form = RoleForm {
        role: Some(&role),
        fields: &FormFields::default(),
        permissions: &permissions,
        errors: &FormErrors::new(),
    };
    role_form(&state, &layout, StatusCode::OK, &form)
}

/// The role page again with a refusal to touch a built-in role.
fn builtin_refused(state: &AdminState, layout: &Layout, role: &Role, action: &str) -> Response {
    let mut errors = FormErrors::new();
    errors.add(FORM, "Built-in roles cannot be changed or deleted.");
    let permissions: Vec<String> = role.permissions.iter().map(|p| p.as_str().to_owned()).collect();
    let form = RoleForm {
        role: Some(role),
        fields: &FormFields::default(),
        permissions: &permissions,
        errors: &errors,
    };
    with_audit(
        role_form(state, layout, StatusCode::CONFLICT, &form),
        json!({"role": role.name, "refused": format!("{action} of a built-in role")}),
    )
}

async fn change_role(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Path(name): Path<String>,
    Form(pairs): Form<Pairs>,
) -> Response {
    let page_path = format!("/backoffice/roles/{name}");
    let layout = Layout::new(&principal, &session, &csrf, &page_path);
    let role = match find_role(&state, &layout, &name).await {
        Ok(role) => role,
        Err(response) => return response,
    };
    if role.builtin {
        return builtin_refused(&state, &layout, &role, "change");
    }
    let fields = fields_of(&pairs);
    let names = checked(&pairs, "permissions");
    let description = fields.text("description");
    let mut errors = FormErrors::new();
    let permissions = parse_permissions(&names, &mut errors);
    let status = if errors.is_empty() {
        match state.acl.update_role(role.id, &description, &permissions).await {
            Ok(updated) => {
                announce_change(&state, &principal, &format!("roles:{}", updated.name)).await;
                flash(&session, "success", format!("Role {} saved.", updated.name));
                return with_audit(
                    Redirect::to(&page_path).into_response(),
                    json!({"role": updated.name, "permissions": updated.permissions}),
                );
            }
            Err(error @ DomainError::Storage(_)) => return storage_error(error),
            Err(error) => {
                errors = FormErrors::from_domain(&error);
                status_of(&error)
            }
        }
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let form = RoleForm {
        role: Some(&role),
        fields: &fields,
        permissions: &names,
        errors: &errors,
    };
    with_audit(
        role_form(&state, &layout, status, &form),
        json!({"role": name, "invalid": errors}),
    )
}

async fn delete_role(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    Path(name): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, &format!("/backoffice/roles/{name}"));
    let role = match find_role(&state, &layout, &name).await {
        Ok(role) => role,
        Err(response) => return response,
    };
    if role.builtin {
        return builtin_refused(&state, &layout, &role, "deletion");
    }
    if let Err(error) = state.acl.delete_role(role.id).await {
        return storage_error(error);
    }
    announce_change(&state, &principal, &format!("roles:{}", role.name)).await;
    flash(&session, "success", format!("Role {} deleted.", role.name));
    with_audit(
        Redirect::to("/backoffice/roles").into_response(),
        json!({"role": role.name, "permissions": role.permissions}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkbox_groups_keep_every_value() {
        let pairs: Pairs = [
            ("email", "a@b.de"),
            ("roles", "read_only"),
            ("roles", " "),
            ("roles", "order_manager"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        assert_eq!(checked(&pairs, "roles"), ["read_only", "order_manager"]);
        assert_eq!(fields_of(&pairs).text("email"), "a@b.de");
        assert_eq!(user_id("12"), Some(UserId(12)));
        assert_eq!(user_id("0"), None);
        assert_eq!(user_id("x"), None);
    }
}
