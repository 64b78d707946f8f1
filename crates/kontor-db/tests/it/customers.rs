//! Customer accounts through `CustomerService` on a real `SqlDatabase`: registration, sign-in and its
//! throttle, refresh-token rotation, password change and reset, addresses and anonymisation.

use crate::fixtures::*;
use chrono::{DateTime, Duration, Utc};
use kontor_db::SqlDatabase;
use kontor_db::entity::customers::{customer, customer_address};
use kontor_domain::customer::{AccessTokenIssuer, CustomerService, Mail, MailError, Mailer, TokenIssueError};
use kontor_domain::gateway::{
    Address, AddressChanges, AddressInput, CustomerChanges, CustomerCommand, CustomerProfile, GatewayError,
    GatewayReply, PasswordChange, PasswordRestore, Registration, Secret, TokenPair,
};
use kontor_testkit::repo_test_suite;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use std::sync::{Arc, Mutex};

const PASSWORD: &str = "correct horse battery";
/// bcrypt (cost 4) of `spryker-import-pw`, in the `$2y$` form Spryker's PHP writes.
const SPRYKER_HASH: &str = "$2y$04$srX6Qjj3orfWNRk6UM1zB.C7LS1tP0mIjgWyo9LS.TghkI7GzwJMW";

/// A clock the test moves by hand.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl kontor_core::Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Signs nothing: the token names its customer, which is all these tests look at.
struct TestIssuer;

impl AccessTokenIssuer for TestIssuer {
    fn issue_access_token(&self, customer_reference: &str) -> Result<(String, u64), TokenIssueError> {
        Ok((format!("jwt-for-{customer_reference}"), 28_800))
    }
}

#[derive(Default)]
struct RecordingMailer(Mutex<Vec<Mail>>);

impl RecordingMailer {
    fn sent(&self) -> Vec<Mail> {
        self.0.lock().expect("mail lock").clone()
    }
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        self.0.lock().expect("mail lock").push(mail.clone());
        Ok(())
    }
}

struct Shop {
    db: SqlDatabase,
    service: CustomerService,
    clock: Arc<TestClock>,
    mailer: Arc<RecordingMailer>,
}

async fn shop(db: SqlDatabase) -> Shop {
    base_shop(&db).await;
    let clock = Arc::new(TestClock(Mutex::new(Utc::now())));
    let mailer = Arc::new(RecordingMailer::default());
    let service =
        CustomerService::new(Arc::new(db.clone()), Arc::new(TestIssuer), mailer.clone(), 30).with_clock(clock.clone());
    Shop {
        db,
        service,
        clock,
        mailer,
    }
}

fn registration(email: &str) -> Registration {
    Registration {
        salutation: "Ms".to_owned(),
        first_name: "Erika".to_owned(),
        last_name: "Mustermann".to_owned(),
        email: email.to_owned(),
        password: Secret(PASSWORD.to_owned()),
        confirm_password: Secret(PASSWORD.to_owned()),
        accepted_terms: true,
        gender: Some("Female".to_owned()),
        date_of_birth: Some("1990-04-01".to_owned()),
    }
}

fn address_input(city: &str) -> AddressInput {
    AddressInput {
        salutation: "Ms".to_owned(),
        first_name: "Erika".to_owned(),
        last_name: "Muster".to_owned(),
        address1: "Hauptstraße".to_owned(),
        address2: Some("5".to_owned()),
        zip_code: "10115".to_owned(),
        city: city.to_owned(),
        iso2_code: "de".to_owned(),
        ..AddressInput::default()
    }
}

/// `(code, pointer)` of every rejection.
fn rejections(error: GatewayError) -> Vec<(String, Option<String>)> {
    match error {
        GatewayError::Rejected(rejections) => rejections
            .into_iter()
            .map(|rejection| (rejection.code, rejection.pointer))
            .collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn rejected(code: &str, field: Option<&str>) -> Vec<(String, Option<String>)> {
    vec![(code.to_owned(), field.map(|field| format!("/data/attributes/{field}")))]
}

impl Shop {
    async fn run(&self, command: CustomerCommand) -> Result<GatewayReply, GatewayError> {
        self.service.execute(command).await
    }

    async fn register(&self, email: &str) -> CustomerProfile {
        let reply = self
            .run(CustomerCommand::Register {
                store: "DE".to_owned(),
                registration: registration(email),
            })
            .await
            .expect("registered");
        match reply {
            GatewayReply::Customer(profile) => profile,
            other => panic!("expected a customer, got {other:?}"),
        }
    }

    async fn login_from(
        &self,
        email: &str,
        password: &str,
        client_ip: Option<&str>,
    ) -> Result<TokenPair, GatewayError> {
        let reply = self
            .run(CustomerCommand::Login {
                store: "DE".to_owned(),
                email: email.to_owned(),
                password: Secret(password.to_owned()),
                anonymous_id: None,
                client_ip: client_ip.map(str::to_owned),
            })
            .await?;
        match reply {
            GatewayReply::Tokens(tokens) => Ok(tokens),
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    async fn login(&self, email: &str, password: &str) -> Result<TokenPair, GatewayError> {
        self.login_from(email, password, Some("10.0.0.1")).await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, GatewayError> {
        let reply = self
            .run(CustomerCommand::Refresh {
                refresh_token: Secret(refresh_token.to_owned()),
            })
            .await?;
        match reply {
            GatewayReply::Tokens(tokens) => Ok(tokens),
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    async fn create_address(&self, reference: &str, input: AddressInput) -> Result<Address, GatewayError> {
        let reply = self
            .run(CustomerCommand::CreateAddress {
                customer_reference: reference.to_owned(),
                address: input,
            })
            .await?;
        match reply {
            GatewayReply::Address(address) => Ok(address),
            other => panic!("expected an address, got {other:?}"),
        }
    }

    async fn addresses(&self, reference: &str) -> Vec<Address> {
        match self
            .run(CustomerCommand::ListAddresses {
                customer_reference: reference.to_owned(),
            })
            .await
            .expect("listed")
        {
            GatewayReply::Addresses(addresses) => addresses,
            other => panic!("expected addresses, got {other:?}"),
        }
    }

    async fn stored_customer(&self, reference: &str) -> customer::Model {
        customer::Entity::find()
            .filter(customer::Column::CustomerReference.eq(reference))
            .one(self.db.connection())
            .await
            .expect("query")
            .expect("row exists")
    }

    /// The reset key of the newest mail (its only line of 64 hex digits).
    fn last_reset_key(&self) -> String {
        let mails = self.mailer.sent();
        let mail = mails.last().expect("a mail was sent");
        mail.body
            .lines()
            .map(str::trim)
            .find(|line| line.len() == 64 && line.chars().all(|c| c.is_ascii_hexdigit()))
            .expect("the mail carries the key")
            .to_owned()
    }
}

async fn registration_creates_customers_with_store_references(db: SqlDatabase) {
    let shop = shop(db).await;
    let mark = outbox_mark(&shop.db).await;
    let erika = shop.register(" Erika@Example.com ").await;
    assert_eq!(erika.customer_reference, "DE--1");
    assert_eq!(erika.email, "erika@example.com");
    assert_eq!(
        (
            erika.salutation.as_str(),
            erika.first_name.as_str(),
            erika.last_name.as_str()
        ),
        ("Ms", "Erika", "Mustermann")
    );
    assert_eq!(erika.gender.as_deref(), Some("Female"));
    assert_eq!(erika.date_of_birth.as_deref(), Some("1990-04-01"));
    assert!(
        erika.created_at.ends_with('Z') && erika.created_at.contains('.'),
        "{}",
        erika.created_at
    );

    let reply = shop
        .run(CustomerCommand::Register {
            store: "de".to_owned(),
            registration: registration("max@example.com"),
        })
        .await
        .expect("registered in lower-case store name");
    let GatewayReply::Customer(max) = reply else {
        panic!("expected a customer");
    };
    assert_eq!(max.customer_reference, "DE--2");

    let fetched = shop
        .run(CustomerCommand::GetCustomer {
            customer_reference: "DE--1".to_owned(),
        })
        .await
        .expect("found");
    assert_eq!(fetched, GatewayReply::Customer(erika));
    let stored = shop.stored_customer("DE--1").await;
    assert!(stored.password_hash.starts_with("$argon2id$"), "passwords are hashed");

    let missing = shop
        .run(CustomerCommand::GetCustomer {
            customer_reference: "DE--99".to_owned(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(rejections(missing), rejected("404", None));
    let unknown_store = shop
        .run(CustomerCommand::Register {
            store: "XX".to_owned(),
            registration: registration("nobody@example.com"),
        })
        .await
        .expect_err("unknown store");
    assert_eq!(rejections(unknown_store), rejected("112", None));
    assert!(
        outbox_since(&shop.db, mark).await.is_empty(),
        "customers are not published"
    );
}

async fn registration_reports_every_invalid_field_at_once(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    let input = Registration {
        salutation: "Sir".to_owned(),
        first_name: String::new(),
        last_name: "x".repeat(101),
        email: "ERIKA@example.com".to_owned(),
        password: Secret("too short".to_owned()),
        confirm_password: Secret("different".to_owned()),
        accepted_terms: false,
        gender: Some("Robot".to_owned()),
        date_of_birth: Some("2999-01-01".to_owned()),
    };
    let error = shop
        .run(CustomerCommand::Register {
            store: "DE".to_owned(),
            registration: input,
        })
        .await
        .expect_err("invalid");
    let mut found = rejections(error);
    found.sort();
    let mut expected: Vec<(String, Option<String>)> = [
        ("901", "salutation"),
        ("901", "firstName"),
        ("901", "lastName"),
        ("402", "email"),
        ("901", "password"),
        ("406", "confirmPassword"),
        ("901", "acceptedTerms"),
        ("901", "gender"),
        ("901", "dateOfBirth"),
    ]
    .iter()
    .map(|(code, field)| ((*code).to_owned(), Some(format!("/data/attributes/{field}"))))
    .collect();
    expected.sort();
    assert_eq!(found, expected);

    let bad_email = shop
        .run(CustomerCommand::Register {
            store: "DE".to_owned(),
            registration: registration("not-an-email"),
        })
        .await
        .expect_err("invalid e-mail");
    assert_eq!(rejections(bad_email), rejected("901", Some("email")));
}

async fn e_mails_are_unique_whatever_their_case(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    let error = shop
        .run(CustomerCommand::Register {
            store: "DE".to_owned(),
            registration: registration("ERIKA@Example.COM"),
        })
        .await
        .expect_err("taken");
    assert_eq!(rejections(error), rejected("402", Some("email")));
    let count = customer::Entity::find()
        .count(shop.db.connection())
        .await
        .expect("count");
    assert_eq!(count, 1);
}

async fn sign_in_issues_tokens_and_refuses_alike(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    let tokens = shop.login("ERIKA@example.com", PASSWORD).await.expect("signed in");
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 28_800);
    assert_eq!(tokens.access_token, "jwt-for-DE--1");
    assert_eq!(tokens.customer_reference, "DE--1");
    assert!(tokens.refresh_token.starts_with("kr1_") && tokens.refresh_token.len() == 68);

    let wrong = shop
        .login("erika@example.com", "wrong horse battery")
        .await
        .expect_err("wrong");
    let unknown = shop.login("nobody@example.com", PASSWORD).await.expect_err("unknown");
    let garbled = shop.login("not an e-mail", PASSWORD).await.expect_err("garbled");
    assert_eq!(wrong, unknown, "the same answer for both");
    assert_eq!(wrong, garbled);
    assert_eq!(rejections(wrong), rejected("003", None));
}

async fn failed_sign_ins_are_throttled_per_account_and_per_client(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    shop.register("max@example.com").await;

    // Per account, from changing addresses.
    for attempt in 0..10 {
        let ip = format!("10.1.0.{attempt}");
        let error = shop
            .login_from("erika@example.com", "wrong horse battery", Some(&ip))
            .await
            .expect_err("wrong");
        assert_eq!(rejections(error), rejected("003", None));
    }
    let throttled = shop.login("erika@example.com", PASSWORD).await.expect_err("throttled");
    assert_eq!(rejections(throttled), rejected("009", None));
    shop.login("max@example.com", PASSWORD)
        .await
        .expect("other accounts are not affected");
    shop.clock.advance(Duration::minutes(16));
    shop.login("erika@example.com", PASSWORD)
        .await
        .expect("the window has passed");

    // A success clears the account's counter.
    for _ in 0..9 {
        shop.login("erika@example.com", "wrong").await.expect_err("wrong");
    }
    shop.login("erika@example.com", PASSWORD)
        .await
        .expect("nine are allowed");
    for _ in 0..9 {
        shop.login("erika@example.com", "wrong").await.expect_err("wrong");
    }
    shop.login("erika@example.com", PASSWORD)
        .await
        .expect("the counter started over");

    // Per client address, across accounts (known or not).
    for attempt in 0..10 {
        let email = format!("guess{attempt}@example.com");
        shop.login_from(&email, PASSWORD, Some("203.0.113.9"))
            .await
            .expect_err("unknown");
    }
    let throttled = shop
        .login_from("max@example.com", PASSWORD, Some("203.0.113.9"))
        .await
        .expect_err("throttled");
    assert_eq!(rejections(throttled), rejected("009", None));
    shop.login_from("max@example.com", PASSWORD, Some("203.0.113.10"))
        .await
        .expect("another address is fine");
}

async fn imported_bcrypt_passwords_sign_in_and_are_rehashed(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("imported@example.com").await;
    let stored = shop.stored_customer("DE--1").await;
    customer::ActiveModel {
        id: Set(stored.id),
        password_hash: Set(SPRYKER_HASH.to_owned()),
        ..Default::default()
    }
    .update(shop.db.connection())
    .await
    .expect("imported hash");

    shop.login("imported@example.com", "spryker-import-pw-wrong")
        .await
        .expect_err("wrong");
    assert_eq!(shop.stored_customer("DE--1").await.password_hash, SPRYKER_HASH);
    shop.login("imported@example.com", "spryker-import-pw")
        .await
        .expect("bcrypt verifies");
    let rehashed = shop.stored_customer("DE--1").await.password_hash;
    assert!(rehashed.starts_with("$argon2id$"), "{rehashed}");
    shop.login("imported@example.com", "spryker-import-pw")
        .await
        .expect("the new hash verifies too");
}

async fn refresh_tokens_rotate_and_reuse_revokes_all(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    let first = shop.login("erika@example.com", PASSWORD).await.expect("signed in");
    let second = shop.refresh(&first.refresh_token).await.expect("rotated");
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.access_token, "jwt-for-DE--1");
    assert_eq!(second.customer_reference, "DE--1");

    let reused = shop.refresh(&first.refresh_token).await.expect_err("used before");
    assert_eq!(rejections(reused), rejected("004", None));
    let revoked = shop
        .refresh(&second.refresh_token)
        .await
        .expect_err("theft signal revoked the chain");
    assert_eq!(rejections(revoked), rejected("004", None));

    for garbage in ["", "kr1_unknown", "eyJ-not-a-refresh-token"] {
        let error = shop.refresh(garbage).await.expect_err("unknown");
        assert_eq!(rejections(error), rejected("004", None), "{garbage}");
    }

    let fresh = shop.login("erika@example.com", PASSWORD).await.expect("signed in");
    shop.clock.advance(Duration::days(31));
    let expired = shop.refresh(&fresh.refresh_token).await.expect_err("expired");
    assert_eq!(rejections(expired), rejected("004", None));
}

async fn refresh_tokens_are_revoked_one_or_all(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    shop.register("max@example.com").await;
    let phone = shop.login("erika@example.com", PASSWORD).await.expect("signed in");
    let laptop = shop.login("erika@example.com", PASSWORD).await.expect("signed in");

    let revoke = |reference: &str, token: &str| CustomerCommand::RevokeRefreshToken {
        customer_reference: reference.to_owned(),
        refresh_token: Secret(token.to_owned()),
    };
    assert_eq!(
        shop.run(revoke("DE--1", &phone.refresh_token)).await,
        Ok(GatewayReply::Done)
    );
    assert_eq!(shop.run(revoke("DE--1", "kr1_unknown")).await, Ok(GatewayReply::Done));
    assert_eq!(shop.run(revoke("DE--1", "garbage")).await, Ok(GatewayReply::Done));
    shop.refresh(&phone.refresh_token).await.expect_err("revoked");
    // Someone else cannot revoke Erika's token.
    assert_eq!(
        shop.run(revoke("DE--2", &laptop.refresh_token)).await,
        Ok(GatewayReply::Done)
    );
    let laptop = shop
        .refresh(&laptop.refresh_token)
        .await
        .expect("a revoked sibling is no theft signal");

    let all = CustomerCommand::RevokeAllRefreshTokens {
        customer_reference: "DE--1".to_owned(),
    };
    assert_eq!(shop.run(all).await, Ok(GatewayReply::Done));
    shop.refresh(&laptop.refresh_token).await.expect_err("all revoked");
    let unknown = CustomerCommand::RevokeAllRefreshTokens {
        customer_reference: "DE--404".to_owned(),
    };
    assert_eq!(shop.run(unknown).await, Ok(GatewayReply::Done));
}

async fn passwords_are_changed_with_the_current_one(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    let session = shop.login("erika@example.com", PASSWORD).await.expect("signed in");
    let change = |current: &str, new: &str, confirm: &str| CustomerCommand::ChangePassword {
        customer_reference: "DE--1".to_owned(),
        change: PasswordChange {
            password: Secret(current.to_owned()),
            new_password: Secret(new.to_owned()),
            confirm_password: Secret(confirm.to_owned()),
        },
    };
    const NEW: &str = "battery staple horse";

    let wrong = shop
        .run(change("wrong horse battery", NEW, NEW))
        .await
        .expect_err("wrong");
    assert_eq!(rejections(wrong), rejected("003", Some("password")));
    let short = shop.run(change(PASSWORD, "short", "short")).await.expect_err("short");
    assert_eq!(rejections(short), rejected("901", Some("newPassword")));
    let differ = shop
        .run(change(PASSWORD, NEW, "battery staple horsE"))
        .await
        .expect_err("differ");
    assert_eq!(rejections(differ), rejected("406", Some("confirmPassword")));

    assert_eq!(shop.run(change(PASSWORD, NEW, NEW)).await, Ok(GatewayReply::Done));
    shop.login("erika@example.com", PASSWORD)
        .await
        .expect_err("old password");
    shop.login("erika@example.com", NEW).await.expect("new password");
    shop.refresh(&session.refresh_token)
        .await
        .expect_err("sessions end with the change");
}

async fn forgotten_passwords_are_restored_with_a_single_use_key(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    let session = shop.login("erika@example.com", PASSWORD).await.expect("signed in");
    let forgot = |email: &str| CustomerCommand::ForgotPassword {
        store: "DE".to_owned(),
        email: email.to_owned(),
    };
    let restore = |key: &str, password: &str| CustomerCommand::RestorePassword {
        restore: PasswordRestore {
            restore_password_key: Secret(key.to_owned()),
            password: Secret(password.to_owned()),
            confirm_password: Secret(password.to_owned()),
        },
    };
    const NEW: &str = "a brand new passphrase";

    assert_eq!(shop.run(forgot("nobody@example.com")).await, Ok(GatewayReply::Done));
    assert_eq!(shop.run(forgot("not an e-mail")).await, Ok(GatewayReply::Done));
    assert!(shop.mailer.sent().is_empty(), "unknown addresses get no mail");

    assert_eq!(shop.run(forgot("Erika@Example.com")).await, Ok(GatewayReply::Done));
    let mails = shop.mailer.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "erika@example.com");
    let key = shop.last_reset_key();

    let unknown = shop.run(restore(&"0".repeat(64), NEW)).await.expect_err("unknown key");
    assert_eq!(rejections(unknown), rejected("901", Some("restorePasswordKey")));
    let short = shop.run(restore(&key, "short")).await.expect_err("short");
    assert_eq!(rejections(short), rejected("901", Some("password")));
    assert_eq!(shop.run(restore(&key, NEW)).await, Ok(GatewayReply::Done));
    shop.login("erika@example.com", NEW).await.expect("new password");
    shop.refresh(&session.refresh_token)
        .await
        .expect_err("sessions end with the reset");
    let again = shop
        .run(restore(&key, "yet another passphrase"))
        .await
        .expect_err("used");
    assert_eq!(rejections(again), rejected("901", Some("restorePasswordKey")));

    assert_eq!(shop.run(forgot("erika@example.com")).await, Ok(GatewayReply::Done));
    let late_key = shop.last_reset_key();
    assert_ne!(late_key, key);
    shop.clock.advance(Duration::hours(2) + Duration::minutes(1));
    let expired = shop
        .run(restore(&late_key, "yet another passphrase"))
        .await
        .expect_err("expired");
    assert_eq!(rejections(expired), rejected("901", Some("restorePasswordKey")));
    shop.login("erika@example.com", NEW).await.expect("unchanged");
}

async fn addresses_are_managed_with_one_default_each(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    shop.register("max@example.com").await;

    let home = shop
        .create_address("DE--1", address_input("Berlin"))
        .await
        .expect("created");
    assert_eq!(home.id.len(), 36);
    assert_eq!((home.iso2_code.as_str(), home.country.as_str()), ("DE", "Germany"));
    assert!(
        home.is_default_shipping && home.is_default_billing,
        "the first address is the default"
    );

    let office = shop
        .create_address(
            "DE--1",
            AddressInput {
                is_default_shipping: true,
                country: Some("Deutschland".to_owned()),
                ..address_input("Hamburg")
            },
        )
        .await
        .expect("created");
    assert!(office.is_default_shipping && !office.is_default_billing);
    assert_eq!(office.country, "Deutschland");
    let listed = shop.addresses("DE--1").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, home.id, "oldest first");
    assert!(!listed[0].is_default_shipping && listed[0].is_default_billing);

    let update = |id: &str, changes: AddressChanges| CustomerCommand::UpdateAddress {
        customer_reference: "DE--1".to_owned(),
        address_id: id.to_owned(),
        changes,
    };
    let moved = shop
        .run(update(
            &office.id,
            AddressChanges {
                iso2_code: Some("at".to_owned()),
                city: Some("Wien".to_owned()),
                is_default_billing: Some(true),
                ..AddressChanges::default()
            },
        ))
        .await
        .expect("updated");
    let GatewayReply::Address(moved) = moved else {
        panic!("expected an address");
    };
    assert_eq!(
        (moved.iso2_code.as_str(), moved.country.as_str(), moved.city.as_str()),
        ("AT", "Austria", "Wien")
    );
    assert_eq!(moved.zip_code, "10115", "untouched fields stay");
    let listed = shop.addresses("DE--1").await;
    assert!(!listed[0].is_default_billing, "the billing default moved");
    assert!(listed[1].is_default_shipping && listed[1].is_default_billing);

    let invalid = shop
        .run(update(
            &office.id,
            AddressChanges {
                city: Some(" ".to_owned()),
                ..AddressChanges::default()
            },
        ))
        .await
        .expect_err("empty city");
    assert_eq!(rejections(invalid), rejected("901", Some("city")));

    let missing = shop
        .create_address(
            "DE--1",
            AddressInput {
                iso2_code: "D".to_owned(),
                ..AddressInput::default()
            },
        )
        .await
        .expect_err("required fields");
    let fields: Vec<String> = rejections(missing)
        .into_iter()
        .filter_map(|(_, pointer)| pointer)
        .collect();
    for field in [
        "salutation",
        "firstName",
        "lastName",
        "address1",
        "zipCode",
        "city",
        "iso2Code",
    ] {
        assert!(
            fields.contains(&format!("/data/attributes/{field}")),
            "{field}: {fields:?}"
        );
    }

    // Max sees none of Erika's addresses.
    assert!(shop.addresses("DE--2").await.is_empty());
    let foreign = [
        CustomerCommand::GetAddress {
            customer_reference: "DE--2".to_owned(),
            address_id: home.id.clone(),
        },
        CustomerCommand::UpdateAddress {
            customer_reference: "DE--2".to_owned(),
            address_id: home.id.clone(),
            changes: AddressChanges::default(),
        },
        CustomerCommand::DeleteAddress {
            customer_reference: "DE--2".to_owned(),
            address_id: home.id.clone(),
        },
    ];
    for command in foreign {
        let error = shop.run(command).await.expect_err("not Max's");
        assert_eq!(rejections(error), rejected("411", None));
    }

    let delete = CustomerCommand::DeleteAddress {
        customer_reference: "DE--1".to_owned(),
        address_id: home.id.clone(),
    };
    assert_eq!(shop.run(delete.clone()).await, Ok(GatewayReply::Done));
    let gone = shop.run(delete).await.expect_err("deleted");
    assert_eq!(rejections(gone), rejected("411", None));
    let fetch = shop
        .run(CustomerCommand::GetAddress {
            customer_reference: "DE--1".to_owned(),
            address_id: office.id.clone(),
        })
        .await
        .expect("found");
    assert_eq!(fetch, GatewayReply::Address(moved));
    let no_customer = shop
        .create_address("DE--404", address_input("Berlin"))
        .await
        .expect_err("unknown customer");
    assert_eq!(rejections(no_customer), rejected("404", None));
}

async fn profiles_are_updated_field_by_field(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    shop.register("max@example.com").await;
    let update = |changes: CustomerChanges| CustomerCommand::UpdateCustomer {
        customer_reference: "DE--1".to_owned(),
        changes,
    };

    let reply = shop
        .run(update(CustomerChanges {
            last_name: Some("Musterfrau".to_owned()),
            email: Some("Erika.M@Example.com".to_owned()),
            date_of_birth: Some(String::new()),
            ..CustomerChanges::default()
        }))
        .await
        .expect("updated");
    let GatewayReply::Customer(profile) = reply else {
        panic!("expected a customer");
    };
    assert_eq!(profile.last_name, "Musterfrau");
    assert_eq!(profile.first_name, "Erika");
    assert_eq!(profile.email, "erika.m@example.com");
    assert_eq!(profile.date_of_birth, None);
    shop.login("erika.m@example.com", PASSWORD)
        .await
        .expect("new e-mail signs in");

    let taken = shop
        .run(update(CustomerChanges {
            email: Some("MAX@example.com".to_owned()),
            ..CustomerChanges::default()
        }))
        .await
        .expect_err("taken");
    assert_eq!(rejections(taken), rejected("402", Some("email")));
    let same = shop
        .run(update(CustomerChanges {
            email: Some("ERIKA.M@example.com".to_owned()),
            ..CustomerChanges::default()
        }))
        .await;
    assert!(same.is_ok(), "keeping one's own e-mail is fine: {same:?}");
    let invalid = shop
        .run(update(CustomerChanges {
            salutation: Some("Sir".to_owned()),
            first_name: Some(String::new()),
            ..CustomerChanges::default()
        }))
        .await
        .expect_err("invalid");
    let mut found = rejections(invalid);
    found.sort();
    assert_eq!(
        found,
        vec![
            ("901".to_owned(), Some("/data/attributes/firstName".to_owned())),
            ("901".to_owned(), Some("/data/attributes/salutation".to_owned())),
        ]
    );
}

async fn deleted_customers_are_anonymised(db: SqlDatabase) {
    let shop = shop(db).await;
    shop.register("erika@example.com").await;
    shop.create_address("DE--1", address_input("Berlin"))
        .await
        .expect("created");
    let session = shop.login("erika@example.com", PASSWORD).await.expect("signed in");

    let delete = CustomerCommand::DeleteCustomer {
        customer_reference: "DE--1".to_owned(),
    };
    assert_eq!(shop.run(delete.clone()).await, Ok(GatewayReply::Done));

    let stored = shop.stored_customer("DE--1").await;
    assert!(
        stored.email.starts_with("deleted-") && stored.email.ends_with(".invalid"),
        "{}",
        stored.email
    );
    assert_eq!((stored.first_name.as_str(), stored.last_name.as_str()), ("", ""));
    assert_eq!((stored.gender, stored.date_of_birth), (None, None));
    assert!(stored.deleted_at.is_some());
    let addresses = customer_address::Entity::find()
        .count(shop.db.connection())
        .await
        .expect("count");
    assert_eq!(addresses, 0);

    let gone = shop
        .run(CustomerCommand::GetCustomer {
            customer_reference: "DE--1".to_owned(),
        })
        .await
        .expect_err("gone");
    assert_eq!(rejections(gone), rejected("404", None));
    let again = shop.run(delete).await.expect_err("gone");
    assert_eq!(rejections(again), rejected("404", None));
    let login = shop.login("erika@example.com", PASSWORD).await.expect_err("no account");
    assert_eq!(rejections(login), rejected("003", None));
    shop.refresh(&session.refresh_token).await.expect_err("revoked");

    let anew = shop.register("erika@example.com").await;
    assert_eq!(
        anew.customer_reference, "DE--2",
        "the address is free again, the reference is not"
    );
}

/// The Back Office's customer list: newest first, paged, searched by e-mail, name or reference,
/// anonymised customers left out.
async fn customers_are_listed_newest_first_and_searched(db: SqlDatabase) {
    use kontor_domain::customer::CustomerRepository;
    let shop = shop(db).await;
    for email in ["erika@example.com", "max@example.com", "lena@shop.example"] {
        shop.register(email).await;
        shop.clock.advance(Duration::seconds(1));
    }
    let emails = |customers: &[kontor_domain::customer::CustomerRecord]| -> Vec<String> {
        customers
            .iter()
            .map(|customer| customer.profile.email.as_str().to_owned())
            .collect()
    };

    let (all, total) = shop.db.list_customers(None, 0, 10).await.expect("listed");
    assert_eq!(total, 3);
    assert_eq!(
        emails(&all),
        ["lena@shop.example", "max@example.com", "erika@example.com"]
    );
    let (second_page, total) = shop.db.list_customers(None, 2, 2).await.expect("listed");
    assert_eq!((emails(&second_page), total), (vec!["erika@example.com".to_owned()], 3));

    let (found, total) = shop
        .db
        .list_customers(Some("EXAMPLE.com"), 0, 10)
        .await
        .expect("listed");
    assert_eq!(
        (emails(&found), total),
        (vec!["max@example.com".to_owned(), "erika@example.com".to_owned()], 2)
    );
    let (found, _) = shop.db.list_customers(Some("de--2"), 0, 10).await.expect("listed");
    assert_eq!(emails(&found), ["max@example.com"], "references match from their start");
    let (found, _) = shop.db.list_customers(Some("musterm"), 0, 10).await.expect("listed");
    assert_eq!(found.len(), 3, "last names match");
    let (found, total) = shop.db.list_customers(Some("100%_"), 0, 10).await.expect("listed");
    assert_eq!((found.len(), total), (0, 0), "wildcards are taken literally");

    let delete = CustomerCommand::DeleteCustomer {
        customer_reference: "DE--2".to_owned(),
    };
    assert_eq!(shop.run(delete).await, Ok(GatewayReply::Done));
    let (left, total) = shop.db.list_customers(None, 0, 10).await.expect("listed");
    assert_eq!(
        (emails(&left), total),
        (vec!["lena@shop.example".to_owned(), "erika@example.com".to_owned()], 2)
    );
}

repo_test_suite!(
    customers_are_listed_newest_first_and_searched,
    registration_creates_customers_with_store_references,
    registration_reports_every_invalid_field_at_once,
    e_mails_are_unique_whatever_their_case,
    sign_in_issues_tokens_and_refuses_alike,
    failed_sign_ins_are_throttled_per_account_and_per_client,
    imported_bcrypt_passwords_sign_in_and_are_rehashed,
    refresh_tokens_rotate_and_reuse_revokes_all,
    refresh_tokens_are_revoked_one_or_all,
    passwords_are_changed_with_the_current_one,
    forgotten_passwords_are_restored_with_a_single_use_key,
    addresses_are_managed_with_one_default_each,
    profiles_are_updated_field_by_field,
    deleted_customers_are_anonymised,
);
