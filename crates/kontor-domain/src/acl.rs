//! Back Office access control and the audit log.
//!
//! A user may do what the union of their roles permits; a role is a named [`PermissionSet`]. The four
//! [`BUILTIN_ROLES`] are seeded by the migration and are defined here, in code: they cannot be deleted,
//! renamed or given other permissions, and their permissions are read from this list rather than from
//! storage, so a permission added in a later release reaches `administrator` without a data migration.
//! An inactive user has no permissions at all.
//!
//! The audit log records who did what to which resource and whether it was allowed. Entries are only
//! ever appended; [`strip_secrets`] removes password-, token-, secret- and CSRF-looking keys from an
//! entry's detail, and repositories apply it on append, so no secret is stored.

use crate::DomainError;
use crate::users::User;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_core::PageRequest;
use kontor_core::ids::{AuditEntryId, RoleId, UserId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// One thing a Back Office user may be allowed to do. The order of the variants is the order of
/// [`Permission::ALL`] and of every listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    DashboardRead,
    CatalogRead,
    CatalogWrite,
    OrdersRead,
    OrdersWrite,
    CustomersRead,
    ImportsRun,
    QueuesRead,
    QueuesWrite,
    UsersRead,
    UsersManage,
    AuditRead,
    SchedulerRead,
    FilesWrite,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: [Permission; 14] = [
        Permission::DashboardRead,
        Permission::CatalogRead,
        Permission::CatalogWrite,
        Permission::OrdersRead,
        Permission::OrdersWrite,
        Permission::CustomersRead,
        Permission::ImportsRun,
        Permission::QueuesRead,
        Permission::QueuesWrite,
        Permission::UsersRead,
        Permission::UsersManage,
        Permission::AuditRead,
        Permission::SchedulerRead,
        Permission::FilesWrite,
    ];

    /// The stable name used in storage, the API and the audit log (`catalog.write`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::DashboardRead => "dashboard.read",
            Permission::CatalogRead => "catalog.read",
            Permission::CatalogWrite => "catalog.write",
            Permission::OrdersRead => "orders.read",
            Permission::OrdersWrite => "orders.write",
            Permission::CustomersRead => "customers.read",
            Permission::ImportsRun => "imports.run",
            Permission::QueuesRead => "queues.read",
            Permission::QueuesWrite => "queues.write",
            Permission::UsersRead => "users.read",
            Permission::UsersManage => "users.manage",
            Permission::AuditRead => "audit.read",
            Permission::SchedulerRead => "scheduler.read",
            Permission::FilesWrite => "files.write",
        }
    }

    /// One line for the role editor of the Back Office.
    pub const fn description(self) -> &'static str {
        match self {
            Permission::DashboardRead => "See the dashboard",
            Permission::CatalogRead => "View products, categories, prices and stock",
            Permission::CatalogWrite => "Create, change and delete catalog data",
            Permission::OrdersRead => "View orders",
            Permission::OrdersWrite => "Change orders and trigger their process events",
            Permission::CustomersRead => "View customer accounts",
            Permission::ImportsRun => "Run data imports",
            Permission::QueuesRead => "View queue statistics and dead letters",
            Permission::QueuesWrite => "Requeue dead letters",
            Permission::UsersRead => "View Back Office users and roles",
            Permission::UsersManage => "Create and deactivate users, edit roles and their assignments",
            Permission::AuditRead => "Read the audit log",
            Permission::SchedulerRead => "View scheduled jobs and their runs",
            Permission::FilesWrite => "Upload and delete files such as product images",
        }
    }

    /// The bit of this permission in a [`PermissionSet`].
    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Permission::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission {0:?}")]
pub struct UnknownPermission(pub String);

impl From<UnknownPermission> for DomainError {
    fn from(error: UnknownPermission) -> Self {
        DomainError::field("/permissions", error.to_string())
    }
}

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|permission| permission.as_str() == name)
            .ok_or_else(|| UnknownPermission(name.to_owned()))
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of permissions: one bit per [`Permission`], so it is `Copy` and a union is one `|`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet {
    bits: u32,
}

impl PermissionSet {
    pub const fn empty() -> Self {
        Self { bits: 0 }
    }

    pub const fn all() -> Self {
        Self::of(&Permission::ALL)
    }

    /// The set of the listed permissions; usable in constants.
    pub const fn of(permissions: &[Permission]) -> Self {
        let mut bits = 0;
        let mut index = 0;
        while index < permissions.len() {
            bits |= permissions[index].bit();
            index += 1;
        }
        Self { bits }
    }

    /// Parses permission names; surrounding blanks are ignored and so are empty names, so that a
    /// form's `catalog.read, catalog.write` parses. The error names the first unknown permission.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Self, UnknownPermission> {
        let mut set = Self::empty();
        for name in names.iter().map(|name| name.as_ref().trim()) {
            if !name.is_empty() {
                set.insert(name.parse()?);
            }
        }
        Ok(set)
    }

    pub fn insert(&mut self, permission: Permission) {
        self.bits |= permission.bit();
    }

    pub const fn contains(self, permission: Permission) -> bool {
        self.bits & permission.bit() != 0
    }

    /// Whether every permission of `other` is in this set.
    pub const fn contains_all(self, other: PermissionSet) -> bool {
        self.bits & other.bits == other.bits
    }

    #[must_use]
    pub const fn union(self, other: PermissionSet) -> Self {
        Self {
            bits: self.bits | other.bits,
        }
    }

    pub const fn is_empty(self) -> bool {
        self.bits == 0
    }

    pub const fn len(self) -> usize {
        self.bits.count_ones() as usize
    }

    /// The permissions in the order of [`Permission::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |permission| self.contains(*permission))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(permissions: I) -> Self {
        let mut set = Self::empty();
        for permission in permissions {
            set.insert(permission);
        }
        set
    }
}

/// Comma-separated names without blanks (`catalog.read,catalog.write`), the stored form.
impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, permission) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(permission.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Permission::as_str)).finish()
    }
}

/// A list of permission names.
impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let permissions = Vec::<Permission>::deserialize(deserializer)?;
        Ok(permissions.into_iter().collect())
    }
}

/// A named set of permissions that users are given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub permissions: PermissionSet,
    /// One of [`BUILTIN_ROLES`]: cannot be deleted, renamed or given other permissions.
    pub builtin: bool,
}

/// A role every installation has, seeded by the migration that created the roles table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRole {
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: PermissionSet,
}

impl BuiltinRole {
    pub fn find(name: &str) -> Option<&'static BuiltinRole> {
        BUILTIN_ROLES.iter().find(|role| role.name == name)
    }
}

/// The role with every permission; users created without a role choice get it, and so did every user
/// that existed before roles did.
pub const ADMINISTRATOR: &str = "administrator";

/// The built-in roles, the single source of the migration's seed, the tests and the permissions the
/// repositories report for these roles.
pub const BUILTIN_ROLES: [BuiltinRole; 4] = [
    BuiltinRole {
        name: ADMINISTRATOR,
        description: "Everything, including users, roles and the audit log",
        permissions: PermissionSet::all(),
    },
    BuiltinRole {
        name: "catalog_manager",
        description: "Maintains the catalog: products, files and imports",
        permissions: PermissionSet::of(&[
            Permission::DashboardRead,
            Permission::CatalogRead,
            Permission::CatalogWrite,
            Permission::FilesWrite,
            Permission::ImportsRun,
            Permission::QueuesRead,
        ]),
    },
    BuiltinRole {
        name: "order_manager",
        description: "Handles orders and looks up customers",
        permissions: PermissionSet::of(&[
            Permission::DashboardRead,
            Permission::OrdersRead,
            Permission::OrdersWrite,
            Permission::CustomersRead,
        ]),
    },
    BuiltinRole {
        name: "read_only",
        description: "Views the shop's data without changing it; no users or audit log",
        permissions: PermissionSet::of(&[
            Permission::DashboardRead,
            Permission::CatalogRead,
            Permission::OrdersRead,
            Permission::CustomersRead,
            Permission::QueuesRead,
            Permission::SchedulerRead,
        ]),
    },
];

pub const MAX_ROLE_NAME_LENGTH: usize = 64;
pub const MAX_ROLE_DESCRIPTION_LENGTH: usize = 500;

/// A Back Office user with the names of their roles, for the user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserWithRoles {
    pub user: User,
    /// Sorted by name.
    pub roles: Vec<String>,
}

#[async_trait]
pub trait AclRepository: Send + Sync {
    /// Every role, built-in ones first (in the order of [`BUILTIN_ROLES`]), then custom ones as created.
    async fn list_roles(&self) -> Result<Vec<Role>, DomainError>;
    async fn find_role(&self, name: &str) -> Result<Option<Role>, DomainError>;
    /// Fails with a conflict on `/name` when the name is taken.
    async fn create_role(
        &self,
        name: &str,
        description: &str,
        permissions: &PermissionSet,
    ) -> Result<Role, DomainError>;
    /// Replaces description and permissions. A built-in role keeps its permissions: asking for others
    /// fails on `/permissions`, while its description may change.
    async fn update_role(
        &self,
        id: RoleId,
        description: &str,
        permissions: &PermissionSet,
    ) -> Result<Role, DomainError>;
    /// Deletes a custom role together with its assignments; a built-in role is a conflict on `/builtin`.
    async fn delete_role(&self, id: RoleId) -> Result<(), DomainError>;
    /// Replaces the user's roles in one transaction; an unknown role fails on `/roles/<index>`.
    async fn set_user_roles(&self, user: UserId, roles: &[RoleId]) -> Result<(), DomainError>;
    /// The user's roles by name; none for an unknown user.
    async fn roles_of(&self, user: UserId) -> Result<Vec<Role>, DomainError>;
    /// A page of users by id with their role names (two queries whatever the page size), and the total.
    async fn list_users(&self, offset: u64, limit: u64) -> Result<(Vec<UserWithRoles>, u64), DomainError>;
    async fn set_user_active(&self, user: UserId, active: bool) -> Result<(), DomainError>;
    async fn find_user(&self, user: UserId) -> Result<Option<User>, DomainError>;
}

/// Role management and permission checks, with the input checks the repository relies on.
#[derive(Clone)]
pub struct AclService {
    repository: Arc<dyn AclRepository>,
}

impl AclService {
    pub fn new(repository: Arc<dyn AclRepository>) -> Self {
        Self { repository }
    }

    pub async fn list_roles(&self) -> Result<Vec<Role>, DomainError> {
        self.repository.list_roles().await
    }

    pub async fn find_role(&self, name: &str) -> Result<Option<Role>, DomainError> {
        self.repository.find_role(name).await
    }

    pub async fn create_role(
        &self,
        name: &str,
        description: &str,
        permissions: &PermissionSet,
    ) -> Result<Role, DomainError> {
        let mut errors = Vec::new();
        if let Err(error) = check_role_name(name) {
            errors.push(error);
        }
        if let Err(error) = check_role_description(description) {
            errors.push(error);
        }
        if !errors.is_empty() {
            return Err(DomainError::Validation(errors));
        }
        self.repository.create_role(name, description.trim(), permissions).await
    }

    pub async fn update_role(
        &self,
        id: RoleId,
        description: &str,
        permissions: &PermissionSet,
    ) -> Result<Role, DomainError> {
        check_role_description(description).map_err(|error| DomainError::Validation(vec![error]))?;
        self.repository.update_role(id, description.trim(), permissions).await
    }

    pub async fn delete_role(&self, id: RoleId) -> Result<(), DomainError> {
        self.repository.delete_role(id).await
    }

    /// The roles with these names, in the given order, or a field error `/roles/<index>` per unknown
    /// name. One read, so a caller can check a whole choice before changing anything.
    pub async fn resolve_roles<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<Role>, DomainError> {
        let known = self.repository.list_roles().await?;
        let mut roles = Vec::with_capacity(names.len());
        let mut errors = Vec::new();
        for (index, name) in names.iter().map(AsRef::as_ref).enumerate() {
            match known.iter().find(|role| role.name == name) {
                Some(role) => roles.push(role.clone()),
                None => errors.push(crate::FieldError::new(
                    format!("/roles/{index}"),
                    format!("unknown role {name:?}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(roles)
        } else {
            Err(DomainError::Validation(errors))
        }
    }

    pub async fn set_user_roles(&self, user: UserId, roles: &[RoleId]) -> Result<(), DomainError> {
        self.repository.set_user_roles(user, roles).await
    }

    pub async fn roles_of(&self, user: UserId) -> Result<Vec<Role>, DomainError> {
        self.repository.roles_of(user).await
    }

    /// The union of the user's roles; empty for an inactive or unknown user.
    pub async fn permissions_of(&self, user: UserId) -> Result<PermissionSet, DomainError> {
        match self.repository.find_user(user).await? {
            Some(found) if found.is_active => {}
            _ => return Ok(PermissionSet::empty()),
        }
        let roles = self.repository.roles_of(user).await?;
        Ok(roles
            .iter()
            .fold(PermissionSet::empty(), |granted, role| granted.union(role.permissions)))
    }

    /// A page of users; the limit is clamped like every list's (see [`PageRequest`]).
    pub async fn list_users(&self, offset: u64, limit: u64) -> Result<(Vec<UserWithRoles>, u64), DomainError> {
        let page = PageRequest::new(offset, limit);
        self.repository.list_users(page.offset, page.limit).await
    }

    pub async fn set_user_active(&self, user: UserId, active: bool) -> Result<(), DomainError> {
        self.repository.set_user_active(user, active).await
    }

    pub async fn find_user(&self, user: UserId) -> Result<Option<User>, DomainError> {
        self.repository.find_user(user).await
    }
}

/// `[a-z][a-z0-9_]{1,63}`: safe in URLs, CLI arguments and the stored comma lists alike.
fn check_role_name(name: &str) -> Result<(), crate::FieldError> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|first| first.is_ascii_lowercase());
    let rest_allowed = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_with_letter && rest_allowed && (2..=MAX_ROLE_NAME_LENGTH).contains(&name.len()) {
        Ok(())
    } else {
        Err(crate::FieldError::new(
            "/name",
            format!("must be 2 to {MAX_ROLE_NAME_LENGTH} lower-case letters, digits or _, starting with a letter"),
        ))
    }
}

fn check_role_description(description: &str) -> Result<(), crate::FieldError> {
    if description.trim().chars().count() > MAX_ROLE_DESCRIPTION_LENGTH {
        return Err(crate::FieldError::new(
            "/description",
            format!("must be at most {MAX_ROLE_DESCRIPTION_LENGTH} characters long"),
        ));
    }
    Ok(())
}

/// What became of an audited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// Permitted and done.
    Allowed,
    /// Refused for lack of a permission or of credentials.
    Denied,
    /// Permitted but it failed (invalid input, storage error).
    Failed,
}

impl AuditOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Allowed => "allowed",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not `allowed`, `denied` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit outcome {0:?}")]
pub struct UnknownOutcome(pub String);

impl FromStr for AuditOutcome {
    type Err = UnknownOutcome;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "allowed" => Ok(AuditOutcome::Allowed),
            "denied" => Ok(AuditOutcome::Denied),
            "failed" => Ok(AuditOutcome::Failed),
            other => Err(UnknownOutcome(other.to_owned())),
        }
    }
}

/// An audit log entry about to be appended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAuditEntry {
    /// None for anonymous requests such as a failed login.
    pub user_id: Option<UserId>,
    /// Kept beside the id so the entry stays readable after the user is gone, and to record the
    /// address a failed login tried.
    pub user_email: Option<String>,
    /// The permission exercised (`catalog.write`) or an event such as `login`.
    pub action: String,
    /// The HTTP method, or `CLI` and the like for other channels.
    pub method: String,
    /// The request path or a short description.
    pub target: String,
    /// The JSON:API type of the resource touched, if any (`abstract-products`).
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: AuditOutcome,
    /// Anything else worth keeping; secrets are stripped on append (see [`strip_secrets`]).
    pub detail: serde_json::Value,
}

impl NewAuditEntry {
    /// An anonymous entry without resource or detail; fill in the rest with struct update syntax.
    pub fn new(
        action: impl Into<String>,
        method: impl Into<String>,
        target: impl Into<String>,
        outcome: AuditOutcome,
    ) -> Self {
        Self {
            user_id: None,
            user_email: None,
            action: action.into(),
            method: method.into(),
            target: target.into(),
            resource_type: None,
            resource_id: None,
            outcome,
            detail: serde_json::Value::Null,
        }
    }

    /// The same entry attributed to `user`.
    #[must_use]
    pub fn by(mut self, user: &User) -> Self {
        self.user_id = Some(user.id);
        self.user_email = Some(user.email.clone());
        self
    }
}

/// A stored audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub at: DateTime<Utc>,
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    pub action: String,
    pub method: String,
    pub target: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: serde_json::Value,
}

/// Which entries to list; every given criterion must match. `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub user_id: Option<UserId>,
    pub outcome: Option<AuditOutcome>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Stores the entry at the current time, its detail passed through [`strip_secrets`] first.
    async fn append(&self, entry: &NewAuditEntry) -> Result<AuditEntryId, DomainError>;
    /// Matching entries, newest first, and how many match in total.
    async fn list(&self, filter: &AuditFilter, offset: u64, limit: u64) -> Result<(Vec<AuditEntry>, u64), DomainError>;
}

/// Parts of an object key that mark its value as a secret, compared case-insensitively. A substring
/// rather than a prefix, so that `new_password`, `apiToken` and `x-csrf-token` are caught as well.
const SECRET_KEY_PARTS: &[&str] = &["password", "passwd", "token", "secret", "csrf", "authorization"];

/// Removes every secret-looking key (see `SECRET_KEY_PARTS`) from `detail`, at any depth.
pub fn strip_secrets(detail: &mut serde_json::Value) {
    match detail {
        serde_json::Value::Object(map) => {
            map.retain(|key, _| !is_secret_key(key));
            map.values_mut().for_each(strip_secrets);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_secrets),
        _ => {}
    }
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permission_names_round_trip() {
        for permission in Permission::ALL {
            assert_eq!(permission.as_str().parse::<Permission>(), Ok(permission));
            assert_eq!(permission.to_string(), permission.as_str());
            assert!(!permission.description().is_empty());
        }
        assert_eq!(
            "catalog.delete".parse::<Permission>(),
            Err(UnknownPermission("catalog.delete".into()))
        );
        let mut sorted = Permission::ALL;
        sorted.sort();
        assert_eq!(sorted, Permission::ALL, "ALL is in declaration order");
    }

    #[test]
    fn permission_sets_parse_print_and_combine() {
        let set = PermissionSet::parse_list(&[" orders.read", "catalog.write", "", "orders.read"]).expect("parses");
        assert_eq!(set.len(), 2);
        assert!(set.contains(Permission::OrdersRead));
        assert!(!set.contains(Permission::OrdersWrite));
        assert_eq!(set.to_string(), "catalog.write,orders.read");
        assert_eq!(
            serde_json::to_value(set).expect("serializes"),
            json!(["catalog.write", "orders.read"])
        );
        let error = PermissionSet::parse_list(&["orders.read", "orders.delete"]).expect_err("unknown");
        assert!(error.to_string().contains("orders.delete"), "{error}");

        let all = PermissionSet::all();
        assert_eq!(all.len(), Permission::ALL.len());
        assert!(all.contains_all(set));
        assert!(!set.contains_all(all));
        assert_eq!(set.union(PermissionSet::empty()), set);
        assert!(PermissionSet::empty().is_empty());
        assert_eq!(all.iter().collect::<PermissionSet>(), all);
    }

    #[test]
    fn builtin_roles_are_as_specified() {
        let names: Vec<_> = BUILTIN_ROLES.iter().map(|role| role.name).collect();
        assert_eq!(names, [ADMINISTRATOR, "catalog_manager", "order_manager", "read_only"]);
        assert_eq!(
            BuiltinRole::find(ADMINISTRATOR).map(|role| role.permissions),
            Some(PermissionSet::all())
        );
        let read_only = BuiltinRole::find("read_only").expect("exists").permissions;
        assert!(
            read_only
                .iter()
                .all(|permission| permission.as_str().ends_with(".read"))
        );
        assert!(!read_only.contains(Permission::UsersRead) && !read_only.contains(Permission::AuditRead));
        for role in BUILTIN_ROLES {
            assert!(check_role_name(role.name).is_ok(), "{}", role.name);
        }
    }

    #[test]
    fn role_names_are_checked() {
        for good in ["ab", "editor", "shop_2_staff", &"a".repeat(64)] {
            assert!(check_role_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "Editor",
            "2nd",
            "_x",
            "with space",
            "dash-ed",
            "ümlaut",
            &"a".repeat(65),
        ] {
            let error = check_role_name(bad).expect_err(bad);
            assert_eq!(error.pointer, "/name");
        }
        assert!(check_role_description(&"x".repeat(500)).is_ok());
        assert_eq!(
            check_role_description(&"x".repeat(501)).map_err(|error| error.pointer),
            Err("/description".into())
        );
    }

    #[test]
    fn outcomes_round_trip() {
        for outcome in [AuditOutcome::Allowed, AuditOutcome::Denied, AuditOutcome::Failed] {
            assert_eq!(outcome.as_str().parse::<AuditOutcome>(), Ok(outcome));
            assert_eq!(serde_json::to_value(outcome).ok(), Some(json!(outcome.as_str())));
        }
        assert!("maybe".parse::<AuditOutcome>().is_err());
    }

    #[test]
    fn secrets_are_stripped_at_any_depth() {
        let mut detail = json!({
            "email": "a@example.com",
            "password": "hunter2hunter2",
            "Password_Confirmation": "hunter2hunter2",
            "csrf": "abc",
            "attributes": {"name": "Kamera", "apiToken": "kontor_x", "items": [{"secret_key": 1, "sku": "A"}]},
        });
        strip_secrets(&mut detail);
        assert_eq!(
            detail,
            json!({
                "email": "a@example.com",
                "attributes": {"name": "Kamera", "items": [{"sku": "A"}]},
            })
        );
    }
}
