//! The `customer` data set: invented accounts with a Spryker bcrypt hash, a plain-text password and
//! none; signing in through `CustomerService`; row errors; idempotent re-import; reference sequence.

use crate::fixtures::*;
use kontor_db::SqlDatabase;
use kontor_db::entity::customers::{customer, customer_reference_sequence};
use kontor_domain::customer::{AccessTokenIssuer, CustomerService, Mail, MailError, Mailer, TokenIssueError};
use kontor_domain::gateway::{CustomerCommand, GatewayError, GatewayReply, Registration, Secret, TokenPair};
use kontor_import::ImportError;
use kontor_testkit::repo_test_suite;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::path::Path;
use std::sync::Arc;

const HEADER: &str = "customer_reference,locale_name,phone,email,salutation,first_name,last_name,company,gender,date_of_birth,password,registered\n";
const BCRYPT_PASSWORD: &str = "invented-bcrypt-pw";
const PLAIN_PASSWORD: &str = "invented plain pw";

/// Signs nothing: the token names its customer.
struct TestIssuer;

impl AccessTokenIssuer for TestIssuer {
    fn issue_access_token(&self, customer_reference: &str) -> Result<(String, u64), TokenIssueError> {
        Ok((format!("jwt-for-{customer_reference}"), 28_800))
    }
}

struct NoMail;

#[async_trait::async_trait]
impl Mailer for NoMail {
    async fn send(&self, _: &Mail) -> Result<(), MailError> {
        Ok(())
    }
}

fn service(db: &SqlDatabase) -> CustomerService {
    CustomerService::new(Arc::new(db.clone()), Arc::new(TestIssuer), Arc::new(NoMail), 30)
}

async fn login(service: &CustomerService, email: &str, password: &str) -> Result<TokenPair, GatewayError> {
    let reply = service
        .execute(CustomerCommand::Login {
            store: "DE".to_owned(),
            email: email.to_owned(),
            password: Secret(password.to_owned()),
            anonymous_id: None,
            client_ip: None,
        })
        .await?;
    match reply {
        GatewayReply::Tokens(tokens) => Ok(tokens),
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// Stores and their locales, which customers need.
async fn base(db: &SqlDatabase, root: &Path) {
    shop(root);
    let importer = importer(db);
    for (entity, file) in [
        ("store", "common/EU/store.csv"),
        ("locale-store", "common/DE/locale_store.csv"),
    ] {
        importer.run_file(entity, &root.join(file)).await.expect(entity);
    }
}

/// A `$2y$` hash as Spryker's PHP writes it (the crate writes `$2b$`, which is the same algorithm).
fn spryker_hash(password: &str) -> String {
    let hash = bcrypt::hash(password, 4).expect("bcrypt");
    format!("$2y${}", &hash[4..])
}

async fn stored(db: &SqlDatabase, reference: &str) -> customer::Model {
    customer::Entity::find()
        .filter(customer::Column::CustomerReference.eq(reference))
        .one(db.connection())
        .await
        .expect("query")
        .expect("stored customer")
}

async fn imported_customers_sign_in_and_reimport_changes_nothing(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    base(&db, dir.path()).await;
    let hash = spryker_hash(BCRYPT_PASSWORD);
    let csv = format!(
        "{HEADER}\
DE--3,de_DE,+49 30 5550100,Anna.Hash@Example.com,Ms,Anna,Hash,,Female,1985-04-12,{hash},2026-01-15
DE--5,en_US,,bob@example.com,Mr,Bob,Plain,Plain GmbH,male,,{PLAIN_PASSWORD},
DE--7,de_DE,,carla@example.com,dr,Carla,Empty,,,,,2026-02-01
"
    );
    let file = write(dir.path(), "common/common/customer.csv", &csv);
    let outbox_before = outbox_count(&db).await;
    let summary = importer(&db).run_file("customer", &file).await.expect("imported");
    assert_eq!((summary.inserted, summary.updated, summary.unchanged), (3, 0, 0));
    assert!(
        summary.warnings.iter().any(|warning| warning.contains("\"phone\"")),
        "{:?}",
        summary.warnings
    );
    assert_eq!(outbox_count(&db).await, outbox_before, "customers publish nothing");

    let anna = stored(&db, "DE--3").await;
    assert_eq!(anna.email, "anna.hash@example.com");
    assert_eq!(anna.password_hash, hash, "a bcrypt hash is stored as it is");
    assert_eq!(anna.gender.as_deref(), Some("Female"));
    assert_eq!(anna.date_of_birth.as_deref(), Some("1985-04-12"));
    let bob = stored(&db, "DE--5").await;
    assert!(bob.password_hash.starts_with("$argon2id$"), "{}", bob.password_hash);
    assert_eq!(bob.gender.as_deref(), Some("Male"));
    let carla = stored(&db, "DE--7").await;
    assert_eq!(carla.salutation, "Dr");
    assert_eq!(carla.password_hash, kontor_domain::customer::secrets::UNUSABLE_HASH);

    let service = service(&db);
    let tokens = login(&service, "anna.hash@example.com", BCRYPT_PASSWORD)
        .await
        .expect("the bcrypt customer signs in");
    assert_eq!(tokens.access_token, "jwt-for-DE--3");
    login(&service, "bob@example.com", PLAIN_PASSWORD)
        .await
        .expect("the plain-text customer signs in");
    login(&service, "carla@example.com", "")
        .await
        .expect_err("no password, no sign-in");
    login(&service, "carla@example.com", "anything")
        .await
        .expect_err("no password, no sign-in");

    // Sign-in re-hashed Anna's password; the same file again changes nothing, not even that.
    let rehashed = stored(&db, "DE--3").await.password_hash;
    assert!(rehashed.starts_with("$argon2id$"), "{rehashed}");
    let again = importer(&db).run_file("customer", &file).await.expect("re-imported");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(stored(&db, "DE--3").await.password_hash, rehashed);
    assert_eq!(stored(&db, "DE--5").await, bob);
    assert_eq!(stored(&db, "DE--7").await, carla);
    assert_eq!(outbox_count(&db).await, outbox_before);

    // A changed row is updated; a password for the account without one makes it usable.
    let changed = csv.replace("Carla,Empty,,,,,", "Carla,Filled,,,,late-password,");
    write(dir.path(), "common/common/customer.csv", &changed);
    let third = importer(&db).run_file("customer", &file).await.expect("re-imported");
    assert_eq!((third.inserted, third.updated, third.unchanged), (0, 1, 2));
    assert_eq!(stored(&db, "DE--7").await.last_name, "Filled");
    login(&service, "carla@example.com", "late-password")
        .await
        .expect("signs in after the password was imported");

    // Registrations continue after the imported references.
    let sequence: Vec<i64> = customer_reference_sequence::Entity::find()
        .all(db.connection())
        .await
        .expect("sequences")
        .into_iter()
        .map(|row| row.last_number)
        .collect();
    assert_eq!(sequence, vec![7]);
    let reply = service
        .execute(CustomerCommand::Register {
            store: "DE".to_owned(),
            registration: Registration {
                salutation: "Mr".to_owned(),
                first_name: "Dirk".to_owned(),
                last_name: "New".to_owned(),
                email: "dirk@example.com".to_owned(),
                password: Secret("correct horse battery".to_owned()),
                confirm_password: Secret("correct horse battery".to_owned()),
                accepted_terms: true,
                gender: None,
                date_of_birth: None,
            },
        })
        .await
        .expect("registered");
    let GatewayReply::Customer(dirk) = reply else {
        panic!("expected a customer");
    };
    assert_eq!(dirk.customer_reference, "DE--8");

    // An e-mail stored for another reference is a row error.
    let taken = write(
        dir.path(),
        "more/customer.csv",
        format!("{HEADER}DE--9,de_DE,,BOB@example.com,Mr,Bobby,Other,,,,,\n"),
    );
    let error = importer(&db)
        .run_file("customer", &taken)
        .await
        .expect_err("taken e-mail");
    let ImportError::InvalidRows { shown, .. } = &error else {
        panic!("unexpected error: {error}");
    };
    assert_eq!(
        shown,
        &[format!(
            "{}:2: email: \"bob@example.com\" is already used by customer \"DE--5\"",
            taken.display()
        )]
    );
}

async fn bad_customer_rows_name_file_line_and_column(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    base(&db, dir.path()).await;
    let file = write(
        dir.path(),
        "bad/customer.csv",
        format!(
            "{HEADER}\
DE--1,de_DE,,not-an-email,Mr,Ann,One,,,,,
DE--2,de_DE,,b@example.com,Mrs,Ben,Two,,,,,
DE--3,de_DE,,B@Example.com,Mr,Cem,Three,,,,,
DE--4,de_DE,,d@example.com,Sir,Dan,Four,,,,,
DE--5,de_DE,,e@example.com,Ms,Eve,Five,,Robot,,,
DE--6,de_DE,,f@example.com,Ms,Fay,Six,,,1990-13-01,,
DE--2,de_DE,,g@example.com,Ms,Gil,Seven,,,,,
"
        ),
    );
    let error = importer(&db)
        .run_file("customer", &file)
        .await
        .expect_err("invalid rows");
    let name = file.display();
    let ImportError::InvalidRows { total, shown, .. } = &error else {
        panic!("unexpected error: {error}");
    };
    assert_eq!(*total, 6);
    assert_eq!(
        shown,
        &[
            format!("{name}:2: email: \"not-an-email\" is not a valid e-mail address"),
            format!("{name}:4: email: \"b@example.com\" is already used by \"DE--2\" on line 3"),
            format!("{name}:5: salutation: \"Sir\" is not one of Mr, Mrs, Ms, Dr"),
            format!("{name}:6: gender: \"Robot\" is not one of Male, Female, Diverse"),
            format!("{name}:7: date_of_birth: \"1990-13-01\" is not a date (YYYY-MM-DD)"),
            format!("{name}:8: customer_reference: \"DE--2\" appears twice in the file (first on line 3)"),
        ]
    );
    let count = customer::Entity::find().count(db.connection()).await.expect("count");
    assert_eq!(count, 0, "nothing of a bad file is imported");

    let unknown = write(
        dir.path(),
        "bad/unknown.csv",
        "customer_reference,email,salutation,first_name,last_name,nickname\nDE--1,a@example.com,Mr,A,B,x\n",
    );
    let error = importer(&db)
        .run_file("customer", &unknown)
        .await
        .expect_err("unknown column");
    assert_eq!(
        error.to_string(),
        format!("{}: unknown column \"nickname\"", unknown.display())
    );
}

repo_test_suite!(
    imported_customers_sign_in_and_reimport_changes_nothing,
    bad_customer_rows_name_file_line_and_column,
);
