//! Back Office users and API tokens, through the repository and through `UserService`.

use crate::fixtures::*;
use kontor_core::ids::{ApiTokenId, UserId};
use kontor_db::SqlDatabase;
use kontor_db::entity::backoffice_user;
use kontor_domain::DomainError;
use kontor_domain::users::{Email, UserRepository, UserService, token_hash};
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, Set};
use std::sync::Arc;

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("valid e-mail")
}

async fn users_are_created_and_found_by_email(db: SqlDatabase) {
    let mark = outbox_mark(&db).await;
    let user = db
        .create_user(&email("admin@example.com"), "$argon2id$stub")
        .await
        .expect("created");
    assert_eq!(user.email, "admin@example.com");
    assert!(user.is_active);
    assert!(user.created_at.timestamp() > 0);

    let (found, hash) = db
        .find_user_by_email(&email("Admin@Example.com"))
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found, user);
    assert_eq!(hash, "$argon2id$stub");
    assert!(
        db.find_user_by_email(&email("nobody@example.com"))
            .await
            .expect("lookup")
            .is_none()
    );

    let error = db
        .create_user(&email("admin@example.com"), "other")
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&error, DomainError::Conflict { pointer, .. } if pointer == "/email"),
        "{error:?}"
    );
    assert!(outbox_since(&db, mark).await.is_empty(), "accounts are not published");
}

async fn tokens_find_their_user_until_revoked(db: SqlDatabase) {
    let user = db
        .create_user(&email("admin@example.com"), "hash")
        .await
        .expect("created");
    let token = db
        .create_api_token(user.id, "ci", &token_hash("kontor_secret"))
        .await
        .expect("token");
    let owner = db
        .find_user_by_token_hash(&token_hash("kontor_secret"))
        .await
        .expect("lookup");
    assert_eq!(owner, Some(user.clone()));
    assert_eq!(
        db.find_user_by_token_hash(&token_hash("kontor_other"))
            .await
            .expect("lookup"),
        None
    );

    db.revoke_api_token(token).await.expect("revoked");
    assert_eq!(
        db.find_user_by_token_hash(&token_hash("kontor_secret"))
            .await
            .expect("lookup"),
        None
    );
    db.revoke_api_token(token).await.expect("revoking twice is harmless");
    let error = db
        .revoke_api_token(ApiTokenId(token.0 + 1000))
        .await
        .expect_err("unknown");
    assert!(matches!(error, DomainError::NotFound { .. }), "{error:?}");

    let error = db
        .create_api_token(UserId(user.id.0 + 1000), "ci", &token_hash("kontor_x"))
        .await
        .expect_err("no user");
    assert!(matches!(error, DomainError::NotFound { .. }), "{error:?}");
}

async fn tokens_of_inactive_users_find_nobody(db: SqlDatabase) {
    let user = db
        .create_user(&email("former@example.com"), "hash")
        .await
        .expect("created");
    db.create_api_token(user.id, "ci", &token_hash("kontor_secret"))
        .await
        .expect("token");
    backoffice_user::ActiveModel {
        id: Set(user.id.0),
        is_active: Set(false),
        ..Default::default()
    }
    .update(db.connection())
    .await
    .expect("deactivated");
    assert_eq!(
        db.find_user_by_token_hash(&token_hash("kontor_secret"))
            .await
            .expect("lookup"),
        None
    );
}

async fn user_service_authenticates_end_to_end(db: SqlDatabase) {
    let service = UserService::new(Arc::new(db.clone()));
    let user = service
        .create_user(" Admin@Example.com ", "correct horse battery")
        .await
        .expect("created");
    assert_eq!(user.email, "admin@example.com");
    let error = service
        .create_user("admin@example.com", "another long password")
        .await
        .expect_err("taken");
    assert!(
        matches!(&error, DomainError::Conflict { pointer, .. } if pointer == "/email"),
        "{error:?}"
    );

    let verified = service
        .verify_password("admin@example.com", "correct horse battery")
        .await
        .expect("password matches");
    assert_eq!(verified, user);
    let wrong = service
        .verify_password("admin@example.com", "wrong horse battery")
        .await
        .expect_err("wrong password");
    assert!(matches!(wrong, DomainError::Unauthorized), "{wrong:?}");
    let unknown = service
        .verify_password("nobody@example.com", "correct horse battery")
        .await
        .expect_err("unknown");
    assert!(matches!(unknown, DomainError::Unauthorized), "{unknown:?}");

    let issued = service.issue_api_token(user.id, "deploy").await.expect("issued");
    assert_eq!(
        service.authenticate_token(&issued.secret).await.expect("authenticated"),
        user
    );
    service.revoke_api_token(issued.id).await.expect("revoked");
    let revoked = service.authenticate_token(&issued.secret).await.expect_err("revoked");
    assert!(matches!(revoked, DomainError::Unauthorized), "{revoked:?}");
}

repo_test_suite!(
    users_are_created_and_found_by_email,
    tokens_find_their_user_until_revoked,
    tokens_of_inactive_users_find_nobody,
    user_service_authenticates_end_to_end,
);
