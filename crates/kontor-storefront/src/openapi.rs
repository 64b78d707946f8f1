//! The storefront's OpenAPI 3.1 document (`/api/openapi.json`) and a browsable, script-free page of it
//! (`/api/docs`). Both come from one table of operations, [`OPERATIONS`], which a test checks against
//! the router so the document cannot list a path that does not exist.

use axum::http::StatusCode;
use axum::response::Html;
use kontor_web::JsonApi;
use serde_json::{Map, Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// `Authorization: Bearer <access token>`.
    Customer,
    /// `X-Anonymous-Customer-Unique-Id`.
    Guest,
}

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    /// Relative to `/api`, with `{name}` path parameters.
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// The JSON:API `type` of the request body, if any.
    pub body_type: Option<&'static str>,
    pub success: u16,
    pub tag: &'static str,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    body_type: Option<&'static str>,
    success: u16,
    tag: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        access,
        body_type,
        success,
        tag,
    }
}

use Access::{Customer, Guest, Public};

/// Every storefront operation.
pub const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/catalog-search",
        "Full-text search with facets, sorts and paging",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/catalog-search-suggestions",
        "Search-as-you-type suggestions",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/abstract-products/{sku}",
        "An abstract product",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/abstract-products/{sku}/abstract-product-prices",
        "Prices of an abstract product",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/abstract-products/{sku}/abstract-product-availabilities",
        "Availability of an abstract product",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/abstract-products/{sku}/abstract-product-image-sets",
        "Image sets of an abstract product",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/abstract-products/{sku}/product-reviews",
        "Approved reviews of an abstract product in the request's locale, newest first",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "post",
        "/abstract-products/{sku}/product-reviews",
        "Write a review (rating 1-5, nickname, summary, description); shown once approved",
        Customer,
        Some("product-reviews"),
        202,
        "catalog",
    ),
    op(
        "get",
        "/abstract-products/{sku}/product-reviews/{id}",
        "One approved review",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/concrete-products/{sku}",
        "A concrete product (variant)",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/concrete-products/{sku}/concrete-product-prices",
        "Prices of a concrete product",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/concrete-products/{sku}/concrete-product-availabilities",
        "Availability of a concrete product",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/concrete-products/{sku}/concrete-product-image-sets",
        "Image sets of a concrete product",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/category-trees",
        "The category tree of the store",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/category-nodes/{nodeId}",
        "A category node with parents and children",
        Public,
        None,
        200,
        "catalog",
    ),
    op(
        "get",
        "/url-resolver",
        "Resolves a storefront URL to a resource",
        Public,
        None,
        200,
        "catalog",
    ),
    op("get", "/stores", "The stores of the shop", Public, None, 200, "catalog"),
    op("get", "/stores/{store}", "One store", Public, None, 200, "catalog"),
    op(
        "post",
        "/customers",
        "Registers a customer",
        Public,
        Some("customers"),
        201,
        "customers",
    ),
    op(
        "get",
        "/customers",
        "The signed-in customer",
        Customer,
        None,
        200,
        "customers",
    ),
    op(
        "get",
        "/customers/{customerReference}",
        "The signed-in customer",
        Customer,
        None,
        200,
        "customers",
    ),
    op(
        "patch",
        "/customers/{customerReference}",
        "Updates the profile",
        Customer,
        Some("customers"),
        200,
        "customers",
    ),
    op(
        "delete",
        "/customers/{customerReference}",
        "Anonymises the account",
        Customer,
        None,
        204,
        "customers",
    ),
    op(
        "get",
        "/customers/{customerReference}/addresses",
        "The customer's addresses",
        Customer,
        None,
        200,
        "customers",
    ),
    op(
        "post",
        "/customers/{customerReference}/addresses",
        "Adds an address",
        Customer,
        Some("addresses"),
        201,
        "customers",
    ),
    op(
        "get",
        "/customers/{customerReference}/addresses/{addressId}",
        "One address",
        Customer,
        None,
        200,
        "customers",
    ),
    op(
        "patch",
        "/customers/{customerReference}/addresses/{addressId}",
        "Updates an address",
        Customer,
        Some("addresses"),
        200,
        "customers",
    ),
    op(
        "delete",
        "/customers/{customerReference}/addresses/{addressId}",
        "Deletes an address",
        Customer,
        None,
        204,
        "customers",
    ),
    op(
        "patch",
        "/customer-password/{customerReference}",
        "Changes the password",
        Customer,
        Some("customer-password"),
        204,
        "customers",
    ),
    op(
        "post",
        "/customer-forgotten-password",
        "Mails a password-reset key",
        Public,
        Some("customer-forgotten-password"),
        204,
        "customers",
    ),
    op(
        "patch",
        "/customer-restore-password/{restorePasswordKey}",
        "Sets a new password with a reset key",
        Public,
        Some("customer-restore-password"),
        204,
        "customers",
    ),
    op(
        "post",
        "/access-tokens",
        "Signs in (merges the guest cart when the guest header is sent)",
        Public,
        Some("access-tokens"),
        201,
        "auth",
    ),
    op(
        "post",
        "/refresh-tokens",
        "Exchanges a refresh token (single use) for new tokens",
        Public,
        Some("refresh-tokens"),
        201,
        "auth",
    ),
    op(
        "delete",
        "/refresh-tokens/{refreshToken}",
        "Revokes a refresh token, or all of them with `mine`",
        Customer,
        None,
        204,
        "auth",
    ),
    op(
        "post",
        "/token",
        "OAuth2 password and refresh_token grants (form encoded)",
        Public,
        None,
        200,
        "auth",
    ),
    op("get", "/carts", "The customer's carts", Customer, None, 200, "carts"),
    op(
        "post",
        "/carts",
        "Creates a cart (Idempotency-Key makes retries safe)",
        Customer,
        Some("carts"),
        201,
        "carts",
    ),
    op("get", "/carts/{cartId}", "One cart", Customer, None, 200, "carts"),
    op(
        "patch",
        "/carts/{cartId}",
        "Renames a cart or changes currency / price mode",
        Customer,
        Some("carts"),
        200,
        "carts",
    ),
    op(
        "delete",
        "/carts/{cartId}",
        "Deletes a cart",
        Customer,
        None,
        204,
        "carts",
    ),
    op(
        "post",
        "/carts/{cartId}/items",
        "Adds an item (Idempotency-Key makes retries safe)",
        Customer,
        Some("items"),
        201,
        "carts",
    ),
    op(
        "patch",
        "/carts/{cartId}/items/{groupKey}",
        "Changes an item's quantity",
        Customer,
        Some("items"),
        200,
        "carts",
    ),
    op(
        "delete",
        "/carts/{cartId}/items/{groupKey}",
        "Removes an item",
        Customer,
        None,
        204,
        "carts",
    ),
    op(
        "get",
        "/guest-carts",
        "The guest's cart",
        Guest,
        None,
        200,
        "guest carts",
    ),
    op(
        "get",
        "/guest-carts/{cartId}",
        "The guest's cart",
        Guest,
        None,
        200,
        "guest carts",
    ),
    op(
        "patch",
        "/guest-carts/{cartId}",
        "Changes currency / price mode",
        Guest,
        Some("guest-carts"),
        200,
        "guest carts",
    ),
    op(
        "delete",
        "/guest-carts/{cartId}",
        "Deletes the guest cart",
        Guest,
        None,
        204,
        "guest carts",
    ),
    op(
        "post",
        "/guest-cart-items",
        "Adds an item, creating the guest cart on first use (Idempotency-Key makes retries safe)",
        Guest,
        Some("guest-cart-items"),
        201,
        "guest carts",
    ),
    op(
        "post",
        "/guest-carts/{cartId}/guest-cart-items",
        "Adds an item (Idempotency-Key makes retries safe)",
        Guest,
        Some("guest-cart-items"),
        201,
        "guest carts",
    ),
    op(
        "patch",
        "/guest-carts/{cartId}/guest-cart-items/{groupKey}",
        "Changes an item's quantity",
        Guest,
        Some("guest-cart-items"),
        200,
        "guest carts",
    ),
    op(
        "delete",
        "/guest-carts/{cartId}/guest-cart-items/{groupKey}",
        "Removes an item",
        Guest,
        None,
        204,
        "guest carts",
    ),
    op(
        "post",
        "/checkout-data",
        "Addresses, shipment and payment methods a cart can be checked out with (token or guest header)",
        Guest,
        Some("checkout-data"),
        200,
        "checkout",
    ),
    op(
        "post",
        "/checkout",
        "Places the order of a cart (token or guest header; Idempotency-Key makes retries safe)",
        Guest,
        Some("checkout"),
        201,
        "checkout",
    ),
    op(
        "get",
        "/orders",
        "The customer's orders, newest first",
        Customer,
        None,
        200,
        "orders",
    ),
    op(
        "get",
        "/orders/{orderReference}",
        "One order with items, their states, totals, shipments and payments",
        Customer,
        None,
        200,
        "orders",
    ),
];

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn header_parameters() -> Vec<Value> {
    vec![
        json!({"name": "Accept-Language", "in": "header", "required": false, "schema": {"type": "string"},
               "description": "Picks the store locale (`de` matches `de_DE`)."}),
        json!({"name": "Store", "in": "header", "required": false, "schema": {"type": "string"},
               "description": "The store (else `_store` query parameter, else the default store)."}),
    ]
}

fn operation_json(operation: &Operation) -> Value {
    let mut parameters = path_parameters(operation.path);
    parameters.extend(header_parameters());
    if operation.access == Access::Guest {
        parameters.push(
            json!({"name": "X-Anonymous-Customer-Unique-Id", "in": "header", "required": true,
                               "schema": {"type": "string", "maxLength": 255}}),
        );
    }
    let mut responses = Map::new();
    let success_description = match operation.success {
        201 => "Created",
        204 => "No content",
        _ => "OK",
    };
    let success = if operation.success == 204 {
        json!({"description": success_description})
    } else {
        json!({"description": success_description,
               "content": {"application/vnd.api+json": {"schema": {"$ref": "#/components/schemas/Document"}}}})
    };
    responses.insert(operation.success.to_string(), success);
    responses.insert(
        "default".to_owned(),
        json!({"description": "A JSON:API error document",
               "content": {"application/vnd.api+json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}),
    );
    let mut object = json!({
        "summary": operation.summary,
        "tags": [operation.tag],
        "operationId": format!("{}{}", operation.method, operation.path.replace(['/', '{', '}', '-'], "_")),
        "parameters": parameters,
        "responses": responses,
    });
    if operation.access == Access::Customer {
        object["security"] = json!([{"bearer": []}]);
    }
    if let Some(kind) = operation.body_type {
        object["requestBody"] = json!({
            "required": true,
            "content": {"application/vnd.api+json": {"schema": {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "object", "required": ["type", "attributes"],
                    "properties": {"type": {"const": kind}, "attributes": {"type": "object"}}}}}}}
        });
    }
    if operation.path == "/token" {
        object["requestBody"] = json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type"],
            "properties": {"grant_type": {"enum": ["password", "refresh_token"]}, "username": {"type": "string"},
                           "password": {"type": "string"}, "refresh_token": {"type": "string"}}}}}});
    }
    object
}

/// The whole OpenAPI document.
pub fn openapi_document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for operation in OPERATIONS {
        let entry = paths
            .entry(format!("/api{}", operation.path))
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(operation.method.to_owned(), operation_json(operation));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Kontor storefront API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Glue-compatible JSON:API. Catalog reads come from the KV store and the search index; customer and cart requests go to the backend."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Document": {"type": "object", "required": ["data"], "properties": {
                    "data": {"oneOf": [{"$ref": "#/components/schemas/Resource"},
                                       {"type": "array", "items": {"$ref": "#/components/schemas/Resource"}}]},
                    "included": {"type": "array", "items": {"$ref": "#/components/schemas/Resource"}},
                    "links": {"type": "object"}}},
                "Resource": {"type": "object", "required": ["type", "id", "attributes"], "properties": {
                    "type": {"type": "string"}, "id": {"type": ["string", "null"]},
                    "attributes": {"type": "object"}, "relationships": {"type": "object"}, "links": {"type": "object"}}},
                "Errors": {"type": "object", "required": ["errors"], "properties": {"errors": {"type": "array", "items": {
                    "type": "object", "required": ["status", "code", "detail"], "properties": {
                        "status": {"type": "integer"}, "code": {"type": "string"}, "detail": {"type": "string"},
                        "source": {"type": "object", "properties": {"pointer": {"type": "string"}, "parameter": {"type": "string"}}}}}}}}
            }
        }
    })
}

pub async fn document() -> JsonApi<Value> {
    JsonApi(StatusCode::OK, openapi_document())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `/api/docs`: the operations grouped by tag, readable without scripts.
pub async fn browser() -> Html<String> {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Kontor storefront API</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
         table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}\
         code{font-size:14px}.m{font-weight:bold;text-transform:uppercase}</style></head><body>\
         <h1>Kontor storefront API</h1><p>Glue-compatible JSON:API. Machine-readable: \
         <a href=\"openapi.json\">openapi.json</a>. Send <code>Accept: application/vnd.api+json</code>.</p>",
    );
    let mut tags: Vec<&str> = OPERATIONS.iter().map(|operation| operation.tag).collect();
    tags.dedup();
    for tag in tags {
        html.push_str(&format!(
            "<h2>{}</h2><table><tr><th>Method</th><th>Path</th><th>What</th><th>Caller</th><th>Success</th></tr>",
            escape(tag)
        ));
        for operation in OPERATIONS.iter().filter(|operation| operation.tag == tag) {
            let access = match operation.access {
                Access::Public => "anyone",
                Access::Customer => "customer token",
                Access::Guest => "guest header",
            };
            html.push_str(&format!(
                "<tr><td class=\"m\">{}</td><td><code>/api{}</code></td><td>{}</td><td>{access}</td><td>{}</td></tr>",
                operation.method,
                escape(operation.path),
                escape(operation.summary),
                operation.success
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    Html(html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StorefrontOptions, StorefrontState, router};
    use async_trait::async_trait;
    use axum::body::Body;
    use axum::http::Request;
    use kontor_domain::gateway::{BackendGateway, GatewayError, GatewayReply, GatewayRequest};
    use kontor_kv::{KvOp, KvOptions, KvStore, MemoryKv};
    use kontor_web::access_token::AccessTokenKeys;
    use std::sync::Arc;
    use tower::ServiceExt;

    struct NoBackend;

    #[async_trait]
    impl BackendGateway for NoBackend {
        async fn execute(&self, _request: GatewayRequest) -> Result<GatewayReply, GatewayError> {
            Err(GatewayError::Unavailable("no backend in this test".to_owned()))
        }
    }

    #[test]
    fn the_document_lists_every_operation_once() {
        let document = openapi_document();
        let count: usize = document["paths"]
            .as_object()
            .map(|paths| paths.values().filter_map(Value::as_object).map(Map::len).sum())
            .unwrap_or(0);
        assert_eq!(count, OPERATIONS.len());
    }

    /// Each documented operation reaches a handler: neither the unknown-path fallback nor the
    /// wrong-method answer (405).
    #[tokio::test]
    async fn every_documented_operation_is_routed() {
        let kv = Arc::new(MemoryKv::new(KvOptions::default()));
        let store = serde_json::json!({"name": "DE", "default_locale": "en_US", "available_locales": ["en_US"],
            "default_currency": "EUR", "available_currencies": ["EUR"], "timezone": "Europe/Berlin",
            "_timestamp": 1.0});
        kv.apply(&[KvOp::write_document("store:de", store).expect("op")])
            .await
            .expect("store document");
        let search_dir = tempfile::tempdir().expect("temp dir");
        let search = kontor_search::TantivySearchIndex::open(search_dir.path()).expect("search index");
        let state = StorefrontState::new(
            kv,
            Arc::new(search),
            Arc::new(NoBackend),
            AccessTokenKeys::from_secret(b"0123456789abcdef0123456789abcdef", 600),
            StorefrontOptions::default(),
        );
        let app = router(state);
        for operation in OPERATIONS {
            let path = operation
                .path
                .split('/')
                .map(|segment| if segment.starts_with('{') { "x1" } else { segment })
                .collect::<Vec<_>>()
                .join("/");
            let mut request = Request::builder()
                .method(operation.method.to_uppercase().as_str())
                .uri(format!("/api{path}"))
                .header("accept", "application/vnd.api+json");
            let body = if operation.body_type.is_some() {
                request = request.header("content-type", "application/vnd.api+json");
                Body::from(r#"{"data": {"type": "x", "attributes": {}}}"#)
            } else {
                Body::empty()
            };
            let response = app
                .clone()
                .oneshot(request.body(body).expect("request"))
                .await
                .expect("response");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            let text = String::from_utf8_lossy(&bytes);
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{} {}: {text}",
                operation.method,
                operation.path
            );
            assert!(
                !(status == StatusCode::NOT_FOUND && text.contains("the requested resource does not exist")),
                "{} {} is not routed: {text}",
                operation.method,
                operation.path
            );
        }
    }
}
