//! The OpenAPI 3.1 document of the admin API, served at `/admin/openapi.json`.
//!
//! Attribute schemas come from the domain types (`utoipa::ToSchema`); the paths are composed here from
//! the same resource list the router uses, so the document always describes the routes that exist.

use kontor_domain::Resource;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    macro_rules! describe_all {
        ($($field:ident: $resource:ty),+ $(,)?) => {
            $(describe::<$resource>(&mut paths, &mut schemas);)+
        };
    }
    crate::for_each_admin_resource!(describe_all);
    schemas.insert("Errors".to_owned(), errors_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kontor admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON:API for Back Office data. Authenticate with `Authorization: Bearer <API token>` \
                            (`kontor user create --email … --api-token`). Errors follow the JSON:API error shape; \
                            field errors carry `source.pointer`."
        },
        "servers": [{"url": "/"}],
        "security": [{"apiToken": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiToken": {"type": "http", "scheme": "bearer"}}
        }
    })
}

fn describe<R: Resource + ToSchema>(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let mut nested = Vec::new();
    R::schemas(&mut nested);
    for (name, schema) in nested {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    let name = R::name().into_owned();
    schemas.insert(name.clone(), serde_json::to_value(R::schema()).unwrap_or(Value::Null));

    let attributes = json!({"$ref": format!("#/components/schemas/{name}")});
    let resource_object = json!({
        "type": "object",
        "required": ["type", "id", "attributes"],
        "properties": {
            "type": {"const": R::TYPE},
            "id": {"type": "string"},
            "attributes": attributes,
            "links": {"type": "object", "properties": {"self": {"type": "string"}}}
        }
    });
    let request_body = |description: &str| {
        json!({
            "required": true,
            "description": description,
            "content": {"application/vnd.api+json": {"schema": {
                "type": "object",
                "required": ["data"],
                "properties": {"data": {
                    "type": "object",
                    "required": ["type", "attributes"],
                    "properties": {"type": {"const": R::TYPE}, "id": {"type": "string"}, "attributes": attributes}
                }}
            }}}
        })
    };
    let single = |description: &str| {
        json!({"description": description, "content": {"application/vnd.api+json": {"schema": {
            "type": "object", "properties": {"data": resource_object}
        }}}})
    };
    let errors = |description: &str| json!({"description": description, "content": {"application/vnd.api+json": {"schema": {"$ref": "#/components/schemas/Errors"}}}});
    let id_parameter = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let mut list_parameters = vec![
        json!({"name": "page[offset]", "in": "query", "schema": {"type": "integer", "minimum": 0}}),
        json!({"name": "page[limit]", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20}}),
    ];
    for filter in R::FILTERS {
        list_parameters.push(json!({
            "name": format!("filter[{}]", filter.param()),
            "in": "query",
            "schema": {"type": "string"},
            "description": match filter {
                kontor_domain::resource::Filter::Sku => "SKU prefix",
                kontor_domain::resource::Filter::Name => "case-insensitive substring of the name",
                kontor_domain::resource::Filter::Status => "exact status",
            }
        }));
    }
    let tag = R::TYPE;
    paths.insert(
        format!("/admin/{}", R::TYPE),
        json!({
            "get": {
                "tags": [tag], "summary": format!("List {}", R::TYPE), "operationId": format!("list-{}", R::TYPE),
                "parameters": list_parameters,
                "responses": {
                    "200": {"description": "one page", "content": {"application/vnd.api+json": {"schema": {
                        "type": "object",
                        "properties": {
                            "data": {"type": "array", "items": resource_object},
                            "meta": {"type": "object", "properties": {"total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"}}},
                            "links": {"type": "object"}
                        }
                    }}}},
                    "400": errors("unknown or malformed query parameter"),
                    "401": errors("invalid API token"),
                    "403": errors("missing API token")
                }
            },
            "post": {
                "tags": [tag], "summary": format!("Create one of {}", R::TYPE), "operationId": format!("create-{}", R::TYPE),
                "requestBody": request_body("the new record's attributes"),
                "responses": {
                    "201": single("created; Location names the new record"),
                    "400": errors("malformed JSON or JSON:API document"),
                    "409": errors("a unique value is taken"),
                    "415": errors("not a JSON:API media type"),
                    "422": errors("invalid attributes; source.pointer names each field")
                }
            }
        }),
    );
    paths.insert(
        format!("/admin/{}/{{id}}", R::TYPE),
        json!({
            "parameters": [id_parameter],
            "get": {
                "tags": [tag], "summary": format!("Read one of {}", R::TYPE), "operationId": format!("read-{}", R::TYPE),
                "responses": {"200": single("the record"), "404": errors("no such record")}
            },
            "patch": {
                "tags": [tag], "summary": format!("Change one of {}", R::TYPE), "operationId": format!("update-{}", R::TYPE),
                "description": "Attributes given are merged into the stored ones (objects key by key); the result is validated as a whole.",
                "requestBody": request_body("the attributes to change"),
                "responses": {
                    "200": single("the changed record"),
                    "404": errors("no such record"),
                    "409": errors("a unique value is taken"),
                    "422": errors("invalid attributes")
                }
            },
            "delete": {
                "tags": [tag], "summary": format!("Delete one of {}", R::TYPE), "operationId": format!("delete-{}", R::TYPE),
                "responses": {"204": {"description": "deleted"}, "404": errors("no such record"), "409": errors("still referenced by other data")}
            }
        }),
    );
}

fn errors_schema() -> Value {
    json!({
        "type": "object",
        "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": {
            "type": "object",
            "required": ["status", "code", "detail"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "detail": {"type": "string"},
                "source": {"type": "object", "properties": {"pointer": {"type": "string"}, "parameter": {"type": "string"}}}
            }
        }}}
    })
}
