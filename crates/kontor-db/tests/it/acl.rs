//! Back Office roles and role assignments, through the repository and through `AclService`: the
//! seeded built-in roles, the upgrade path for users older than roles, custom roles, assignments and
//! the user list.

use kontor_core::ids::{RoleId, UserId};
use kontor_db::SqlDatabase;
use kontor_db::entity::acl_audit::acl_role;
use kontor_db::entity::backoffice_user;
use kontor_db::migration::{Migrator, migration_names};
use kontor_domain::DomainError;
use kontor_domain::acl::{ADMINISTRATOR, AclRepository, AclService, BUILTIN_ROLES, Permission, PermissionSet, Role};
use kontor_domain::users::{Email, User, UserRepository};
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
use sea_orm_migration::MigratorTrait;
use std::sync::Arc;

const ACL_MIGRATION: &str = "m20261125_000010_acl_audit";

async fn user(db: &SqlDatabase, email: &str) -> User {
    db.create_user(&Email::parse(email).expect("valid e-mail"), "$argon2id$stub")
        .await
        .expect("user created")
}

async fn role(db: &SqlDatabase, name: &str) -> Role {
    db.find_role(name).await.expect("lookup").expect("role exists")
}

fn names(roles: &[Role]) -> Vec<&str> {
    roles.iter().map(|role| role.name.as_str()).collect()
}

fn is_field_error(error: &DomainError, field: &str) -> bool {
    matches!(error, DomainError::Validation(fields) if fields.iter().any(|error| error.pointer == field))
}

fn is_conflict(error: &DomainError, field: &str) -> bool {
    matches!(error, DomainError::Conflict { pointer, .. } if pointer == field)
}

async fn builtin_roles_are_seeded(db: SqlDatabase) {
    let roles = db.list_roles().await.expect("roles");
    assert_eq!(names(&roles), BUILTIN_ROLES.map(|role| role.name));
    for (stored, builtin) in roles.iter().zip(BUILTIN_ROLES) {
        assert!(stored.builtin, "{}", stored.name);
        assert_eq!(stored.permissions, builtin.permissions, "{}", stored.name);
        assert_eq!(stored.description, builtin.description);
    }
    assert_eq!(role(&db, ADMINISTRATOR).await.permissions, PermissionSet::all());
    let catalog_manager = role(&db, "catalog_manager").await.permissions;
    assert!(catalog_manager.contains(Permission::CatalogWrite) && !catalog_manager.contains(Permission::OrdersRead));
    // The stored lists match too, for anyone reading the table with SQL.
    let rows = acl_role::Entity::find()
        .order_by_asc(acl_role::Column::Id)
        .all(db.connection())
        .await
        .expect("rows");
    for (row, builtin) in rows.iter().zip(BUILTIN_ROLES) {
        assert_eq!(row.permissions, builtin.permissions.to_string());
    }
    assert!(db.find_role("nobody").await.expect("lookup").is_none());
}

async fn users_older_than_roles_become_administrators(db: SqlDatabase) {
    // Back to the schema before roles (and whatever came after them), as on an upgraded installation.
    let names = migration_names();
    let position = names
        .iter()
        .position(|name| name == ACL_MIGRATION)
        .expect("the migration is registered");
    let steps = u32::try_from(names.len() - position).expect("few migrations");
    Migrator::down(db.connection(), Some(steps)).await.expect("roll back");
    assert!(
        !db.applied_migrations()
            .await
            .expect("applied")
            .contains(&ACL_MIGRATION.to_owned())
    );
    let mut existing = Vec::new();
    for email in ["first@example.com", "second@example.com"] {
        let row = backoffice_user::ActiveModel {
            email: Set(email.to_owned()),
            password_hash: Set("$argon2id$stub".to_owned()),
            is_active: Set(true),
            created_at: Set(1),
            updated_at: Set(1),
            ..Default::default()
        }
        .insert(db.connection())
        .await
        .expect("user from before roles");
        existing.push(UserId(row.id));
    }

    db.migrate().await.expect("upgrade");
    for id in existing {
        assert_eq!(names_of(&db, id).await, [ADMINISTRATOR]);
    }
    let newcomer = user(&db, "new@example.com").await;
    assert!(
        db.roles_of(newcomer.id).await.expect("roles").is_empty(),
        "only existing users"
    );
    assert_eq!(db.list_roles().await.expect("roles").len(), BUILTIN_ROLES.len());
}

async fn names_of(db: &SqlDatabase, user: UserId) -> Vec<String> {
    db.roles_of(user)
        .await
        .expect("roles")
        .into_iter()
        .map(|role| role.name)
        .collect()
}

async fn custom_roles_are_created_changed_and_deleted(db: SqlDatabase) {
    let acl = AclService::new(Arc::new(db.clone()));
    let reading = PermissionSet::of(&[Permission::CatalogRead, Permission::OrdersRead]);
    let editor = acl
        .create_role("editor", " Edits texts ", &reading)
        .await
        .expect("created");
    assert_eq!(
        (
            editor.name.as_str(),
            editor.description.as_str(),
            editor.permissions,
            editor.builtin
        ),
        ("editor", "Edits texts", reading, false)
    );
    assert_eq!(acl.find_role("editor").await.expect("lookup"), Some(editor.clone()));

    let taken = acl
        .create_role("editor", "", &PermissionSet::empty())
        .await
        .expect_err("taken");
    assert!(is_conflict(&taken, "/name"), "{taken:?}");
    let builtin_name = acl
        .create_role(ADMINISTRATOR, "", &PermissionSet::empty())
        .await
        .expect_err("taken");
    assert!(is_conflict(&builtin_name, "/name"), "{builtin_name:?}");
    let invalid = acl
        .create_role("Bad Name", &"x".repeat(501), &reading)
        .await
        .expect_err("invalid");
    assert!(
        is_field_error(&invalid, "/name") && is_field_error(&invalid, "/description"),
        "{invalid:?}"
    );

    let writing = reading.union(PermissionSet::of(&[Permission::CatalogWrite]));
    let changed = acl
        .update_role(editor.id, "Edits the catalog", &writing)
        .await
        .expect("updated");
    assert_eq!(changed.permissions, writing);
    assert_eq!(role(&db, "editor").await, changed);
    let too_long = acl
        .update_role(editor.id, &"x".repeat(501), &writing)
        .await
        .expect_err("too long");
    assert!(is_field_error(&too_long, "/description"), "{too_long:?}");

    let member = user(&db, "member@example.com").await;
    acl.set_user_roles(member.id, &[editor.id]).await.expect("assigned");
    acl.delete_role(editor.id).await.expect("deleted");
    assert!(acl.find_role("editor").await.expect("lookup").is_none());
    assert!(
        acl.roles_of(member.id).await.expect("roles").is_empty(),
        "assignment removed"
    );
    let gone = acl.delete_role(editor.id).await.expect_err("gone");
    assert!(matches!(gone, DomainError::NotFound { .. }), "{gone:?}");
    let gone = acl.update_role(editor.id, "", &reading).await.expect_err("gone");
    assert!(matches!(gone, DomainError::NotFound { .. }), "{gone:?}");
}

async fn builtin_roles_cannot_be_changed_or_deleted(db: SqlDatabase) {
    let acl = AclService::new(Arc::new(db.clone()));
    let administrator = role(&db, ADMINISTRATOR).await;
    let fewer = PermissionSet::of(&[Permission::DashboardRead]);
    let error = acl
        .update_role(administrator.id, "Less", &fewer)
        .await
        .expect_err("built-in");
    assert!(is_field_error(&error, "/permissions"), "{error:?}");
    let error = acl.delete_role(administrator.id).await.expect_err("built-in");
    assert!(is_conflict(&error, "/builtin"), "{error:?}");
    assert_eq!(role(&db, ADMINISTRATOR).await, administrator, "unchanged");

    // Its description may change, as long as the permissions stay what they are.
    let described = acl
        .update_role(administrator.id, "The owners", &PermissionSet::all())
        .await
        .expect("description changed");
    assert_eq!(described.description, "The owners");
    assert_eq!(described.permissions, PermissionSet::all());
    assert!(described.builtin);
}

async fn user_roles_are_replaced_and_permissions_are_their_union(db: SqlDatabase) {
    let acl = AclService::new(Arc::new(db.clone()));
    let member = user(&db, "member@example.com").await;
    assert!(acl.permissions_of(member.id).await.expect("permissions").is_empty());

    let catalog = role(&db, "catalog_manager").await;
    let orders = role(&db, "order_manager").await;
    acl.set_user_roles(member.id, &[orders.id, catalog.id, orders.id])
        .await
        .expect("assigned");
    assert_eq!(names_of(&db, member.id).await, ["catalog_manager", "order_manager"]);
    let granted = acl.permissions_of(member.id).await.expect("permissions");
    assert_eq!(granted, catalog.permissions.union(orders.permissions));
    assert!(granted.contains(Permission::CatalogWrite) && granted.contains(Permission::OrdersWrite));
    assert!(!granted.contains(Permission::UsersManage));

    let read_only = role(&db, "read_only").await;
    acl.set_user_roles(member.id, &[read_only.id]).await.expect("replaced");
    assert_eq!(names_of(&db, member.id).await, ["read_only"]);
    assert_eq!(
        acl.permissions_of(member.id).await.expect("permissions"),
        read_only.permissions
    );

    // An unknown role changes nothing and names its position.
    let error = acl
        .set_user_roles(member.id, &[catalog.id, RoleId(999_999)])
        .await
        .expect_err("unknown role");
    assert!(is_field_error(&error, "/roles/1"), "{error:?}");
    assert_eq!(names_of(&db, member.id).await, ["read_only"]);
    let error = acl
        .set_user_roles(UserId(member.id.0 + 1000), &[catalog.id])
        .await
        .expect_err("unknown user");
    assert!(matches!(error, DomainError::NotFound { .. }), "{error:?}");

    // An inactive user keeps their roles but may do nothing.
    acl.set_user_active(member.id, false).await.expect("deactivated");
    acl.set_user_active(member.id, false).await.expect("twice is harmless");
    assert_eq!(
        acl.find_user(member.id)
            .await
            .expect("lookup")
            .map(|found| found.is_active),
        Some(false)
    );
    assert!(acl.permissions_of(member.id).await.expect("permissions").is_empty());
    acl.set_user_active(member.id, true).await.expect("reactivated");
    assert_eq!(
        acl.permissions_of(member.id).await.expect("permissions"),
        read_only.permissions
    );
    let error = acl
        .set_user_active(UserId(member.id.0 + 1000), true)
        .await
        .expect_err("unknown user");
    assert!(matches!(error, DomainError::NotFound { .. }), "{error:?}");
    assert!(
        acl.find_user(UserId(member.id.0 + 1000))
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        acl.permissions_of(UserId(member.id.0 + 1000))
            .await
            .expect("permissions")
            .is_empty()
    );

    acl.set_user_roles(member.id, &[]).await.expect("cleared");
    assert!(names_of(&db, member.id).await.is_empty());
}

async fn user_list_pages_with_roles(db: SqlDatabase) {
    let acl = AclService::new(Arc::new(db.clone()));
    let roles = db.list_roles().await.expect("roles");
    let mut expected = Vec::new();
    for index in 0_usize..7 {
        let member = user(&db, &format!("user{index}@example.com")).await;
        // User i gets the built-in roles whose position divides i: 0 gets all, primes few, and so on.
        let chosen: Vec<&Role> = roles
            .iter()
            .enumerate()
            .filter(|(position, _)| index.is_multiple_of(position + 1))
            .map(|(_, role)| role)
            .collect();
        let ids: Vec<RoleId> = chosen.iter().map(|role| role.id).collect();
        acl.set_user_roles(member.id, &ids).await.expect("assigned");
        let mut role_names: Vec<String> = chosen.iter().map(|role| role.name.clone()).collect();
        role_names.sort();
        expected.push((member.email, role_names));
    }
    let no_roles = user(&db, "none@example.com").await;
    expected.push((no_roles.email, Vec::new()));

    let (first, total) = acl.list_users(0, 5).await.expect("first page");
    let (second, again) = acl.list_users(5, 5).await.expect("second page");
    assert_eq!((total, again), (8, 8));
    assert_eq!((first.len(), second.len()), (5, 3));
    let listed: Vec<(String, Vec<String>)> = first
        .into_iter()
        .chain(second)
        .map(|entry| (entry.user.email, entry.roles))
        .collect();
    assert_eq!(listed, expected);
}

repo_test_suite!(
    builtin_roles_are_seeded,
    users_older_than_roles_become_administrators,
    custom_roles_are_created_changed_and_deleted,
    builtin_roles_cannot_be_changed_or_deleted,
    user_roles_are_replaced_and_permissions_are_their_union,
    user_list_pages_with_roles,
);
