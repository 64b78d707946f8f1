//! Customer resources over HTTP against the real backend services (SQLite) behind the in-process
//! gateway: registration, sign-in, tokens, profile, addresses, password change and reset — the happy
//! paths as snapshots, every refusal with its status, code and pointer, and the isolation between
//! customers.

use crate::catalog::fixture::{Answer, Backend, Shop, snapshot};
use axum::http::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-battery";

fn registration(email: &str) -> Value {
    json!({"data": {"type": "customers", "attributes": {
        "salutation": "Ms", "firstName": "Erika", "lastName": "Muster", "email": email,
        "password": PASSWORD, "confirmPassword": PASSWORD, "acceptedTerms": true}}})
}

fn login_body(email: &str, password: &str) -> Value {
    json!({"data": {"type": "access-tokens", "attributes": {"username": email, "password": password}}})
}

/// Replaces values that differ per run (tokens, timestamps, generated ids) by placeholders.
fn redacted(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, entry) in map.iter_mut() {
                    match key.as_str() {
                        "accessToken" | "refreshToken" | "createdAt" | "updatedAt" => {
                            *entry = json!(format!("[{key}]"))
                        }
                        _ => walk(entry),
                    }
                }
                if map.get("type") == Some(&json!("addresses"))
                    && let Some(id) = map.get_mut("id")
                {
                    *id = json!("[address id]");
                }
                if let Some(Value::String(link)) = map.get_mut("self")
                    && link.contains("/addresses/")
                {
                    let base = link.split("/addresses/").next().unwrap_or_default().to_owned();
                    *link = format!("{base}/addresses/[address id]");
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

async fn sign_in(shop: &Shop, email: &str, password: &str) -> (String, String) {
    let answer = shop.post("/access-tokens", &[], login_body(email, password)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let attributes = &answer.body["data"]["attributes"];
    (
        attributes["accessToken"].as_str().expect("access token").to_owned(),
        attributes["refreshToken"].as_str().expect("refresh token").to_owned(),
    )
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

pub(crate) fn pointers(answer: &Answer) -> Vec<String> {
    answer.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["source"]["pointer"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn registration_sign_in_profile_and_tokens(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;

    let created = shop.post("/customers", &[], registration("erika@example.com")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    snapshot("customer_registered", &redacted(created.contract()));
    let reference = created.body["data"]["id"].as_str().expect("reference").to_owned();
    assert!(reference.starts_with("DE--"), "{reference}");
    assert!(
        !created.body.to_string().contains(PASSWORD),
        "passwords are never returned"
    );

    // The same address in other letters is taken.
    let taken = shop.post("/customers", &[], registration("Erika@Example.COM")).await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "402"),
        "{}",
        taken.body
    );

    // Every problem of a registration at once, each at its field.
    let bad = json!({"data": {"type": "customers", "attributes": {
        "salutation": "Sir", "firstName": "", "lastName": "Muster", "email": "not-an-email",
        "password": "short", "confirmPassword": "other", "acceptedTerms": false}}});
    let refused = shop.post("/customers", &[], bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    snapshot("customer_registration_refused", &refused.contract());
    let missing = shop
        .post(
            "/customers",
            &[],
            json!({"data": {"type": "customers", "attributes": {"email": "x@example.com"}}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.body);
    assert!(!pointers(&missing).is_empty(), "{}", missing.body);
    let wrong_type = shop
        .post(
            "/customers",
            &[],
            json!({"data": {"type": "customers", "attributes": {"acceptedTerms": "yes"}}}),
        )
        .await;
    assert_eq!(
        wrong_type.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong_type.body
    );
    let malformed = shop.post_raw("/customers", &[], "{\"data\": ").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{}", malformed.body);

    // Wrong password and unknown e-mail get the same answer.
    let wrong = shop
        .post(
            "/access-tokens",
            &[],
            login_body("erika@example.com", "wrong-password-12"),
        )
        .await;
    let unknown = shop
        .post("/access-tokens", &[], login_body("nobody@example.com", PASSWORD))
        .await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "003"));
    assert_eq!(wrong.body, unknown.body);

    let tokens = shop
        .post("/access-tokens", &[], login_body("erika@example.com", PASSWORD))
        .await;
    assert_eq!(tokens.status, StatusCode::CREATED, "{}", tokens.body);
    snapshot("access_tokens", &redacted(tokens.contract()));
    let access = tokens.body["data"]["attributes"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let refresh = tokens.body["data"]["attributes"]["refreshToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let auth = bearer(&access);

    let profile = shop
        .get_with(&format!("/customers/{reference}"), &[(auth.0, &auth.1)])
        .await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    snapshot("customer_profile", &redacted(profile.contract()));
    let own_list = shop.get_with("/customers", &[(auth.0, &auth.1)]).await;
    assert_eq!(own_list.body["data"][0]["id"], json!(reference));

    // No token, a forged one, an expired one, someone else's reference.
    let anonymous = shop.get(&format!("/customers/{reference}")).await;
    assert_eq!((anonymous.status, anonymous.code()), (StatusCode::FORBIDDEN, "002"));
    let forged = shop
        .get_with(
            &format!("/customers/{reference}"),
            &[("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")],
        )
        .await;
    assert_eq!((forged.status, forged.code()), (StatusCode::UNAUTHORIZED, "001"));
    let expired = shop.expired_token(&reference);
    let expired = shop
        .get_with(
            &format!("/customers/{reference}"),
            &[("authorization", &format!("Bearer {expired}"))],
        )
        .await;
    assert_eq!((expired.status, expired.code()), (StatusCode::UNAUTHORIZED, "001"));
    let foreign = shop.get_with("/customers/DE--999", &[(auth.0, &auth.1)]).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "404"));

    let patched = shop
        .patch(
            &format!("/customers/{reference}"),
            &[(auth.0, &auth.1)],
            json!({"data": {"type": "customers", "attributes": {"firstName": "Erika Maria", "gender": "Female"}}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["data"]["attributes"]["firstName"], "Erika Maria");

    // Refresh tokens are single use; a reused one is refused.
    let refresh_body = |token: &str| json!({"data": {"type": "refresh-tokens", "attributes": {"refreshToken": token}}});
    let rotated = shop.post("/refresh-tokens", &[], refresh_body(&refresh)).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let reused = shop.post("/refresh-tokens", &[], refresh_body(&refresh)).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::UNAUTHORIZED, "004"));

    // OAuth2 form grant.
    let form = shop
        .post_form(
            "/token",
            &format!("grant_type=password&username=erika%40example.com&password={PASSWORD}"),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert_eq!(form.body["token_type"], "Bearer");
    let refused_grant = shop
        .post_form(
            "/token",
            "grant_type=password&username=erika%40example.com&password=nope",
        )
        .await;
    assert_eq!(refused_grant.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused_grant.body["error"], "invalid_grant");

    let logout = shop.delete("/refresh-tokens/mine", &[(auth.0, &auth.1)]).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let form_refresh = form.body["refresh_token"].as_str().expect("refresh").to_owned();
    let after_logout = shop.post("/refresh-tokens", &[], refresh_body(&form_refresh)).await;
    assert_eq!(after_logout.code(), "004", "logout revoked every refresh token");
    shop.close().await;
}

async fn addresses_belong_to_their_customer(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    for email in ["erika@example.com", "max@example.com"] {
        let created = shop.post("/customers", &[], registration(email)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let (erika, _) = sign_in(&shop, "erika@example.com", PASSWORD).await;
    let (max, _) = sign_in(&shop, "max@example.com", PASSWORD).await;
    let erika_auth = bearer(&erika);
    let max_auth = bearer(&max);
    let erika_ref = shop.get_with("/customers", &[(erika_auth.0, &erika_auth.1)]).await.body["data"][0]["id"]
        .as_str()
        .expect("reference")
        .to_owned();

    let address = json!({"data": {"type": "addresses", "attributes": {
        "salutation": "Ms", "firstName": "Erika", "lastName": "Muster", "address1": "Hauptstraße", "address2": "5",
        "zipCode": "10115", "city": "Berlin", "iso2Code": "de"}}});
    let path = format!("/customers/{erika_ref}/addresses");
    let created = shop
        .post(&path, &[(erika_auth.0, &erika_auth.1)], address.clone())
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    snapshot("address_created", &redacted(created.contract()));
    let first_id = created.body["data"]["id"].as_str().expect("id").to_owned();
    let second = shop
        .post(&path, &[(erika_auth.0, &erika_auth.1)], address.clone())
        .await;
    let second_id = second.body["data"]["id"].as_str().expect("id").to_owned();

    // Making the second the default shipping address clears the flag on the first.
    let patched = shop
        .patch(
            &format!("{path}/{second_id}"),
            &[(erika_auth.0, &erika_auth.1)],
            json!({"data": {"type": "addresses", "attributes": {"isDefaultShipping": true, "city": "Hamburg"}}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["data"]["attributes"]["city"], "Hamburg");
    let listed = shop.get_with(&path, &[(erika_auth.0, &erika_auth.1)]).await;
    let defaults: Vec<(String, bool)> = listed.body["data"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|address| {
            (
                address["id"].as_str().unwrap_or_default().to_owned(),
                address["attributes"]["isDefaultShipping"] == true,
            )
        })
        .collect();
    assert!(
        defaults.contains(&(first_id.clone(), false)) && defaults.contains(&(second_id.clone(), true)),
        "{defaults:?}"
    );

    let invalid = shop
        .post(
            &path,
            &[(erika_auth.0, &erika_auth.1)],
            json!({"data": {"type": "addresses", "attributes": {"salutation": "Ms", "firstName": "Erika",
                "lastName": "Muster", "address1": "", "zipCode": "10115", "city": "Berlin", "iso2Code": "Germany"}}}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", invalid.body);
    let invalid_pointers = pointers(&invalid);
    assert!(
        invalid_pointers.contains(&"/data/attributes/address1".to_owned()),
        "{invalid_pointers:?}"
    );
    assert!(
        invalid_pointers.contains(&"/data/attributes/iso2Code".to_owned()),
        "{invalid_pointers:?}"
    );

    // Max sees none of it: not the list, not the address, not even through his own path.
    let through_erika = shop.get_with(&path, &[(max_auth.0, &max_auth.1)]).await;
    assert_eq!(through_erika.status, StatusCode::NOT_FOUND);
    let max_ref = shop.get_with("/customers", &[(max_auth.0, &max_auth.1)]).await.body["data"][0]["id"]
        .as_str()
        .expect("reference")
        .to_owned();
    let foreign = shop
        .get_with(
            &format!("/customers/{max_ref}/addresses/{first_id}"),
            &[(max_auth.0, &max_auth.1)],
        )
        .await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::NOT_FOUND, "411"));
    let foreign_delete = shop
        .delete(
            &format!("/customers/{max_ref}/addresses/{first_id}"),
            &[(max_auth.0, &max_auth.1)],
        )
        .await;
    assert_eq!(foreign_delete.status, StatusCode::NOT_FOUND);

    let deleted = shop
        .delete(&format!("{path}/{first_id}"), &[(erika_auth.0, &erika_auth.1)])
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = shop
        .get_with(&format!("{path}/{first_id}"), &[(erika_auth.0, &erika_auth.1)])
        .await;
    assert_eq!(gone.code(), "411");
    shop.close().await;
}

async fn password_change_and_reset(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let created = shop.post("/customers", &[], registration("erika@example.com")).await;
    let reference = created.body["data"]["id"].as_str().expect("reference").to_owned();
    let (access, _) = sign_in(&shop, "erika@example.com", PASSWORD).await;
    let auth = bearer(&access);

    let change = |current: &str, new: &str, confirm: &str| {
        json!({"data": {"type": "customer-password", "attributes": {
            "password": current, "newPassword": new, "confirmPassword": confirm}}})
    };
    let path = format!("/customer-password/{reference}");
    let wrong = shop
        .patch(
            &path,
            &[(auth.0, &auth.1)],
            change("not-my-password", "brand-new-password", "brand-new-password"),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "003"),
        "{}",
        wrong.body
    );
    let mismatch = shop
        .patch(
            &path,
            &[(auth.0, &auth.1)],
            change(PASSWORD, "brand-new-password", "brand-new-passwort"),
        )
        .await;
    assert_eq!(
        (mismatch.status, mismatch.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "406"),
        "{}",
        mismatch.body
    );
    let changed = shop
        .patch(
            &path,
            &[(auth.0, &auth.1)],
            change(PASSWORD, "brand-new-password", "brand-new-password"),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    let old = shop
        .post("/access-tokens", &[], login_body("erika@example.com", PASSWORD))
        .await;
    assert_eq!(old.code(), "003");
    sign_in(&shop, "erika@example.com", "brand-new-password").await;

    // Forgotten password: 204 whether or not the address is known; only a known one gets mail.
    let forgot = |email: &str| json!({"data": {"type": "customer-forgotten-password", "attributes": {"email": email}}});
    let unknown = shop
        .post("/customer-forgotten-password", &[], forgot("nobody@example.com"))
        .await;
    assert_eq!(unknown.status, StatusCode::NO_CONTENT);
    assert!(shop.mails().is_empty());
    let known = shop
        .post("/customer-forgotten-password", &[], forgot("erika@example.com"))
        .await;
    assert_eq!(known.status, StatusCode::NO_CONTENT);
    let mails = shop.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "erika@example.com");
    let key = mails[0]
        .body
        .split(|ch: char| !ch.is_ascii_hexdigit())
        .find(|word| word.len() == 64)
        .expect("the reset key is in the mail")
        .to_owned();
    let restore = |key: &str, password: &str| {
        json!({"data": {"type": "customer-restore-password", "attributes": {
            "restorePasswordKey": key, "password": password, "confirmPassword": password}}})
    };
    let forged_key = "0".repeat(64);
    let forged = shop
        .patch(
            &format!("/customer-restore-password/{forged_key}"),
            &[],
            restore(&forged_key, "reset-password-123"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", forged.body);
    assert_eq!(pointers(&forged), ["/data/attributes/restorePasswordKey"]);
    let restored = shop
        .patch(
            &format!("/customer-restore-password/{key}"),
            &[],
            restore(&key, "reset-password-123"),
        )
        .await;
    assert_eq!(restored.status, StatusCode::NO_CONTENT, "{}", restored.body);
    let reused = shop
        .patch(
            &format!("/customer-restore-password/{key}"),
            &[],
            restore(&key, "another-password-1"),
        )
        .await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reset key works once"
    );
    sign_in(&shop, "erika@example.com", "reset-password-123").await;

    // Deleting the account anonymises it: the old credentials no longer sign in.
    let (access, _) = sign_in(&shop, "erika@example.com", "reset-password-123").await;
    let auth = bearer(&access);
    let deleted = shop
        .delete(&format!("/customers/{reference}"), &[(auth.0, &auth.1)])
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let after = shop
        .post(
            "/access-tokens",
            &[],
            login_body("erika@example.com", "reset-password-123"),
        )
        .await;
    assert_eq!(after.code(), "003");
    shop.close().await;
}

async fn sign_in_is_throttled(backend: Backend) {
    let shop = Shop::open_with_backend(backend).await;
    let created = shop.post("/customers", &[], registration("erika@example.com")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    for _ in 0..10 {
        let wrong = shop
            .post(
                "/access-tokens",
                &[],
                login_body("erika@example.com", "wrong-password-12"),
            )
            .await;
        assert_eq!(wrong.code(), "003", "{}", wrong.body);
    }
    // Even the right password waits now: the account is throttled, not just the guesses.
    let throttled = shop
        .post("/access-tokens", &[], login_body("erika@example.com", PASSWORD))
        .await;
    assert_eq!(
        (throttled.status, throttled.code()),
        (StatusCode::TOO_MANY_REQUESTS, "009"),
        "{}",
        throttled.body
    );
    assert_eq!(
        throttled
            .headers
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("900")
    );
    shop.close().await;
}

on_both_kv_backends!(
    registration_sign_in_profile_and_tokens,
    addresses_belong_to_their_customer,
    password_change_and_reset,
    sign_in_is_throttled
);
