//! The OpenAPI document is part of the contract: a snapshot shows every change to it in review.

#[test]
fn openapi_document_is_stable() {
    let document = kontor_backoffice::openapi::document();
    let paths = document["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), 28, "14 resources × (collection + item)");
    insta::assert_json_snapshot!(document);
}
