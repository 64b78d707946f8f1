//! JSON:API documents: reading request bodies with errors that name the field, and writing responses
//! with the right media type.

use crate::error::{AppError, ErrorCode};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub const JSON_API_MEDIA_TYPE: &str = "application/vnd.api+json";

/// A JSON:API response body with its status.
pub struct JsonApi<T>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for JsonApi<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.1) {
            Ok(body) => (self.0, [(CONTENT_TYPE, JSON_API_MEDIA_TYPE)], body).into_response(),
            Err(error) => AppError::internal(&error).into_response(),
        }
    }
}

/// A resource object of a response.
#[derive(Debug, Serialize)]
pub struct ResourceObject<A: Serialize> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub attributes: A,
    pub links: SelfLink,
}

#[derive(Debug, Serialize)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub self_link: String,
}

/// A top-level document: one resource object or a list of them.
#[derive(Debug, Serialize)]
pub struct Document<D: Serialize> {
    pub data: D,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
}

/// The `data` of a request body: `{"data": {"type": …, "id"?: …, "attributes": {…}}}`. The attributes
/// stay raw JSON so that a PATCH can be merged before it is typed; [`parse_attributes`] types them.
#[derive(Debug, Clone)]
pub struct JsonApiRequest {
    pub kind: String,
    pub id: Option<String>,
    pub attributes: Map<String, Value>,
}

impl JsonApiRequest {
    /// Fails with 400 unless `data.type` is `expected`.
    pub fn expect_type(&self, expected: &str) -> Result<(), AppError> {
        if self.kind == expected {
            return Ok(());
        }
        Err(AppError::at_pointer(
            ErrorCode::MalformedBody,
            "/data/type",
            format!("type must be {expected}, not {}", self.kind),
        ))
    }

    /// Parses a body that has already been read.
    pub fn from_slice(body: &[u8]) -> Result<Self, AppError> {
        let document: Value = serde_json::from_slice(body).map_err(|error| {
            AppError::new(
                ErrorCode::MalformedBody,
                format!("the body is not valid JSON: {}", without_location(&error)),
            )
        })?;
        let Value::Object(mut document) = document else {
            return Err(AppError::at_pointer(
                ErrorCode::MalformedBody,
                "",
                "the body must be a JSON object",
            ));
        };
        let Some(Value::Object(mut data)) = document.remove("data") else {
            return Err(AppError::at_pointer(
                ErrorCode::MalformedBody,
                "/data",
                "data must be an object",
            ));
        };
        let kind = match data.remove("type") {
            Some(Value::String(kind)) => kind,
            _ => {
                return Err(AppError::at_pointer(
                    ErrorCode::MalformedBody,
                    "/data/type",
                    "type must be a string",
                ));
            }
        };
        let id = match data.remove("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(_) => {
                return Err(AppError::at_pointer(
                    ErrorCode::MalformedBody,
                    "/data/id",
                    "id must be a string",
                ));
            }
        };
        let attributes = match data.remove("attributes") {
            Some(Value::Object(attributes)) => attributes,
            None => Map::new(),
            Some(_) => {
                return Err(AppError::at_pointer(
                    ErrorCode::MalformedBody,
                    "/data/attributes",
                    "attributes must be an object",
                ));
            }
        };
        Ok(Self { kind, id, attributes })
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonApiRequest {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != JSON_API_MEDIA_TYPE && essence != "application/json" {
            return Err(AppError::new(
                ErrorCode::UnsupportedMediaType,
                format!("send the body as {JSON_API_MEDIA_TYPE}"),
            ));
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            AppError::new(
                ErrorCode::MalformedBody,
                format!("the body could not be read: {rejection}"),
            )
        })?;
        Self::from_slice(&body)
    }
}

/// Types raw attributes as `T`; a wrong type, missing or unknown field is a 422 whose pointer names it.
pub fn parse_attributes<T: DeserializeOwned>(attributes: Map<String, Value>) -> Result<T, AppError> {
    serde_path_to_error::deserialize(Value::Object(attributes)).map_err(|error| {
        let mut pointer = String::from("/data/attributes");
        for segment in error.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => pointer.push_str(&format!("/{}", escape_pointer(key))),
                Segment::Enum { variant } => pointer.push_str(&format!("/{}", escape_pointer(variant))),
                Segment::Unknown => {}
            }
        }
        let message = without_location(error.inner());
        // serde reports a missing field at its parent object; point at the field itself.
        if let Some(field) = quoted_field(&message, "missing field `") {
            pointer.push_str(&format!("/{}", escape_pointer(&field)));
        }
        AppError::at_pointer(ErrorCode::Unprocessable, pointer, message)
    })
}

fn quoted_field(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next().map(str::to_owned)
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// serde_json appends "at line 1 column 42" to its messages; clients get the pointer instead.
fn without_location(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(position) => message[..position].to_owned(),
        None => message,
    }
}

/// Merges `patch` into `target` the way a JSON:API PATCH of attributes works: objects merge key by
/// key (recursively), everything else (strings, numbers, arrays, null) replaces.
pub fn merge_attributes(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match (target.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge_attributes(existing, incoming),
            (_, incoming) => {
                target.insert(key, incoming);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Product {
        sku: String,
        net_amount: i64,
        tags: Vec<u8>,
    }

    fn pointer_of(error: &AppError) -> String {
        match &error.errors()[0].source {
            Some(crate::error::ErrorSource::Pointer(pointer)) => pointer.clone(),
            other => panic!("expected a pointer, got {other:?}"),
        }
    }

    fn attributes(json: &str) -> Map<String, Value> {
        JsonApiRequest::from_slice(json.as_bytes())
            .expect("well-formed")
            .attributes
    }

    #[test]
    fn wrong_types_missing_and_unknown_fields_are_pointed_at() {
        let wrong = parse_attributes::<Product>(attributes(
            r#"{"data":{"type":"p","attributes":{"sku":"a","netAmount":"ten","tags":[]}}}"#,
        ))
        .expect_err("wrong type");
        assert_eq!(pointer_of(&wrong), "/data/attributes/netAmount");
        assert!(
            wrong.errors()[0].detail.contains("invalid type"),
            "{}",
            wrong.errors()[0].detail
        );

        let nested = parse_attributes::<Product>(attributes(
            r#"{"data":{"type":"p","attributes":{"sku":"a","netAmount":1,"tags":[1,300]}}}"#,
        ))
        .expect_err("out of range");
        assert_eq!(pointer_of(&nested), "/data/attributes/tags/1");

        let missing = parse_attributes::<Product>(attributes(
            r#"{"data":{"type":"p","attributes":{"sku":"a","tags":[]}}}"#,
        ))
        .expect_err("missing");
        assert_eq!(pointer_of(&missing), "/data/attributes/netAmount");

        let unknown = parse_attributes::<Product>(attributes(
            r#"{"data":{"type":"p","attributes":{"sku":"a","netAmount":1,"tags":[],"colour":"red"}}}"#,
        ))
        .expect_err("unknown");
        assert_eq!(pointer_of(&unknown), "/data/attributes/colour");
    }

    #[test]
    fn malformed_documents_are_bad_requests() {
        for body in [
            "{",
            "[]",
            r#"{"data":[]}"#,
            r#"{"data":{"attributes":{}}}"#,
            r#"{"data":{"type":"p","attributes":7}}"#,
        ] {
            let error = JsonApiRequest::from_slice(body.as_bytes()).expect_err(body);
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[test]
    fn patches_merge_objects_and_replace_the_rest() {
        let mut target = attributes(r#"{"data":{"type":"p","attributes":{"a":{"x":1,"y":2},"list":[1,2],"n":1}}}"#);
        merge_attributes(
            &mut target,
            attributes(r#"{"data":{"type":"p","attributes":{"a":{"y":3},"list":[9]}}}"#),
        );
        assert_eq!(
            Value::Object(target),
            serde_json::json!({"a":{"x":1,"y":3},"list":[9],"n":1})
        );
    }
}
