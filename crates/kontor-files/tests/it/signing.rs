//! Signed URLs: valid until they expire, and only for the key and expiry they were made for.

use chrono::{Duration, TimeZone, Utc};
use kontor_files::testing::test_signer;
use kontor_files::{FileKey, SignatureError, UrlSigner};

fn key(key: &str) -> FileKey {
    FileKey::parse(key).expect("valid key")
}

/// `expires` and `signature` of a signed URL.
fn parts(url: &str) -> (i64, String) {
    let (_, query) = url.split_once('?').expect("a query");
    let mut expires = None;
    let mut signature = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("expires", value)) => expires = Some(value.parse().expect("numeric expiry")),
            Some(("signature", value)) => signature = Some(value.to_owned()),
            _ => {}
        }
    }
    (expires.expect("expires"), signature.expect("signature"))
}

#[test]
fn signed_url_is_the_file_path_with_expiry_and_signature() {
    let signer = test_signer();
    let expires_at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).single().expect("a time");
    let url = signer.sign(&key("private/invoices/DE--1.pdf"), expires_at);
    let (expires, signature) = parts(&url);
    assert!(url.starts_with("/files/private/invoices/DE--1.pdf?expires="), "{url}");
    assert_eq!(expires, expires_at.timestamp());
    assert_eq!(signature.len(), 64, "hex of 32 bytes");
    assert_eq!(
        signer.sign(&key("private/invoices/DE--1.pdf"), expires_at),
        url,
        "deterministic"
    );
}

#[test]
fn valid_signature_is_accepted_until_expiry() {
    let signer = test_signer();
    let invoice = key("private/invoices/DE--1.pdf");
    let now = Utc::now();
    let url = signer.sign(&invoice, now + Duration::minutes(5));
    let (expires, signature) = parts(&url);
    assert_eq!(signer.verify(&invoice, expires, &signature, now), Ok(()));
    let query = url.split_once('?').map(|(_, query)| query);
    assert_eq!(signer.verify_query(&invoice, query, now), Ok(()));
    let (lifetime_url, expires_at) = signer.sign_for(&invoice, std::time::Duration::from_secs(60));
    assert!(expires_at > now);
    assert_eq!(
        signer.verify_query(&invoice, lifetime_url.split_once('?').map(|(_, query)| query), now),
        Ok(())
    );
}

#[test]
fn expired_signature_is_refused() {
    let signer = test_signer();
    let invoice = key("private/invoices/DE--1.pdf");
    let now = Utc::now();
    let (expires, signature) = parts(&signer.sign(&invoice, now - Duration::seconds(1)));
    assert!(matches!(
        signer.verify(&invoice, expires, &signature, now),
        Err(SignatureError::Expired { .. })
    ));
    // The very second of expiry is already too late.
    let (expires, signature) = parts(&signer.sign(&invoice, now));
    let at_expiry = chrono::DateTime::from_timestamp(expires, 0).expect("a time");
    assert!(signer.verify(&invoice, expires, &signature, at_expiry).is_err());
}

#[test]
fn forged_or_altered_signatures_are_refused() {
    let signer = test_signer();
    let invoice = key("private/invoices/DE--1.pdf");
    let now = Utc::now();
    let (expires, signature) = parts(&signer.sign(&invoice, now + Duration::minutes(5)));

    // A longer life with the old signature.
    assert_eq!(
        signer.verify(&invoice, expires + 3600, &signature, now),
        Err(SignatureError::Invalid)
    );
    // One flipped hex digit, garbage, an empty signature.
    let mut flipped = signature.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    for forged in [flipped.as_str(), "not-hex", "", &signature[..32]] {
        assert_eq!(
            signer.verify(&invoice, expires, forged, now),
            Err(SignatureError::Invalid),
            "{forged}"
        );
    }
    // Signed with another secret.
    let other = UrlSigner::new("another-secret-of-at-least-32-bytes!").expect("signer");
    let (other_expires, other_signature) = parts(&other.sign(&invoice, now + Duration::minutes(5)));
    assert_eq!(
        signer.verify(&invoice, other_expires, &other_signature, now),
        Err(SignatureError::Invalid)
    );
    // An expired URL whose expiry was pushed forward is a forgery, not merely expired.
    let (old_expires, old_signature) = parts(&signer.sign(&invoice, now - Duration::minutes(5)));
    assert_eq!(
        signer.verify(&invoice, old_expires + 3600, &old_signature, now),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn signature_for_another_key_is_refused() {
    let signer = test_signer();
    let now = Utc::now();
    let (expires, signature) = parts(&signer.sign(&key("private/invoices/DE--1.pdf"), now + Duration::minutes(5)));
    for other in [
        "private/invoices/DE--2.pdf",
        "private/invoices/DE--1.pdfx",
        "public/invoices/DE--1.pdf",
    ] {
        assert_eq!(
            signer.verify(&key(other), expires, &signature, now),
            Err(SignatureError::Invalid),
            "{other}"
        );
    }
}

#[test]
fn unsigned_queries_are_refused() {
    let signer = test_signer();
    let invoice = key("private/invoices/DE--1.pdf");
    let now = Utc::now();
    for query in [None, Some(""), Some("expires=99999999999"), Some("signature=abcd")] {
        assert_eq!(
            signer.verify_query(&invoice, query, now),
            Err(SignatureError::Missing),
            "{query:?}"
        );
    }
    assert_eq!(
        signer.verify_query(&invoice, Some("expires=soon&signature=abcd"), now),
        Err(SignatureError::Invalid)
    );
}
