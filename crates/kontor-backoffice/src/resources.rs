//! The five endpoints every admin resource has, written once:
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `/admin/<type>?page[offset]&page[limit]&filter[sku]&filter[name]` | 200, `data` array, `meta.total`, paging links |
//! | POST | `/admin/<type>` | 201 with `Location` |
//! | GET | `/admin/<type>/<id>` | 200 |
//! | PATCH | `/admin/<type>/<id>` | 200; attributes merged into the stored ones, then validated whole |
//! | DELETE | `/admin/<type>/<id>` | 204 |

use crate::acl::GuardedRouter;
use crate::state::{AdminServices, AdminState, ServiceFor};
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kontor_domain::acl::Permission;
use kontor_domain::{Record, Resource};
use kontor_web::jsonapi::{Document, ResourceObject, SelfLink, merge_attributes, parse_attributes};
use kontor_web::query::parse_list_query;
use kontor_web::{AppError, ErrorCode, JsonApi, JsonApiRequest};
use serde_json::{Value, json};

/// The admin routes of every resource.
pub fn routes() -> GuardedRouter {
    macro_rules! route_all {
        ($($field:ident: $resource:ty),+ $(,)?) => {
            GuardedRouter::new()$(.merge(resource_routes::<$resource>()))+
        };
    }
    crate::for_each_admin_resource!(route_all)
}

/// Reading a resource needs `catalog.read`, changing it `catalog.write`.
fn resource_routes<R>() -> GuardedRouter
where
    R: Resource,
    AdminServices: ServiceFor<R>,
{
    let one = format!("{}/{{id}}", collection_path::<R>());
    GuardedRouter::new()
        .get(collection_path::<R>(), Permission::CatalogRead, list::<R>)
        .post(collection_path::<R>(), Permission::CatalogWrite, create::<R>)
        .get(one.clone(), Permission::CatalogRead, read::<R>)
        .route(Method::PATCH, one.clone(), Permission::CatalogWrite, update::<R>)
        .route(Method::DELETE, one, Permission::CatalogWrite, remove::<R>)
}

fn collection_path<R: Resource>() -> String {
    format!("/admin/{}", R::TYPE)
}

fn resource_object<R: Resource>(record: Record<R>) -> ResourceObject<R> {
    let id = record.id.to_string();
    ResourceObject {
        kind: R::TYPE,
        links: SelfLink {
            self_link: format!("{}/{id}", collection_path::<R>()),
        },
        id,
        attributes: record.attributes,
    }
}

/// Ids are positive integers; anything else cannot exist.
fn parse_id<R: Resource>(raw: &str) -> Result<R::Id, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(R::Id::from)
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("{} {raw} does not exist", R::TYPE)))
}

async fn list<R>(State(state): State<AdminState>, RawQuery(raw): RawQuery) -> Result<Response, AppError>
where
    R: Resource,
    AdminServices: ServiceFor<R>,
{
    let query = parse_list_query(raw.as_deref())?;
    let page = ServiceFor::<R>::service(&*state).list(&query).await?;
    let (offset, limit, total) = (page.request.offset, page.request.limit, page.total);
    let link = |at: u64| format!("{}?page[offset]={at}&page[limit]={limit}", collection_path::<R>());
    let last_offset = total.saturating_sub(1) / limit * limit;
    let mut links = json!({"self": link(offset), "first": link(0), "last": link(last_offset)});
    if offset > 0 {
        links["prev"] = Value::String(link(offset.saturating_sub(limit)));
    }
    if offset + limit < total {
        links["next"] = Value::String(link(offset + limit));
    }
    let data: Vec<ResourceObject<R>> = page.items.into_iter().map(resource_object).collect();
    let document = Document {
        data,
        meta: Some(json!({"total": total, "offset": offset, "limit": limit})),
        links: Some(links),
    };
    Ok(JsonApi(StatusCode::OK, document).into_response())
}

async fn create<R>(State(state): State<AdminState>, body: JsonApiRequest) -> Result<Response, AppError>
where
    R: Resource,
    AdminServices: ServiceFor<R>,
{
    body.expect_type(R::TYPE)?;
    if body.id.is_some() {
        return Err(AppError::at_pointer(
            ErrorCode::MalformedBody,
            "/data/id",
            "ids are assigned by the server",
        ));
    }
    let attributes: R = parse_attributes(body.attributes)?;
    let record = ServiceFor::<R>::service(&*state).create(attributes).await?;
    let object = resource_object(record);
    let location = HeaderValue::from_str(&object.links.self_link).ok();
    let mut response = JsonApi(
        StatusCode::CREATED,
        Document {
            data: object,
            meta: None,
            links: None,
        },
    )
    .into_response();
    if let Some(location) = location {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

async fn read<R>(State(state): State<AdminState>, Path(raw_id): Path<String>) -> Result<Response, AppError>
where
    R: Resource,
    AdminServices: ServiceFor<R>,
{
    let record = ServiceFor::<R>::service(&*state).get(parse_id::<R>(&raw_id)?).await?;
    Ok(JsonApi(
        StatusCode::OK,
        Document {
            data: resource_object(record),
            meta: None,
            links: None,
        },
    )
    .into_response())
}

async fn update<R>(
    State(state): State<AdminState>,
    Path(raw_id): Path<String>,
    body: JsonApiRequest,
) -> Result<Response, AppError>
where
    R: Resource,
    AdminServices: ServiceFor<R>,
{
    let id = parse_id::<R>(&raw_id)?;
    body.expect_type(R::TYPE)?;
    if body.id.as_deref().is_some_and(|body_id| body_id != raw_id) {
        return Err(AppError::at_pointer(
            ErrorCode::Conflict,
            "/data/id",
            "the id in the body differs from the URL",
        ));
    }
    let service = ServiceFor::<R>::service(&*state);
    let stored = service.get(id).await?;
    let Ok(Value::Object(mut attributes)) = serde_json::to_value(&stored.attributes) else {
        return Err(AppError::internal(&format!(
            "{} attributes do not serialise to an object",
            R::TYPE
        )));
    };
    merge_attributes(&mut attributes, body.attributes);
    let merged: R = parse_attributes(attributes)?;
    let record = service.update(id, merged).await?;
    Ok(JsonApi(
        StatusCode::OK,
        Document {
            data: resource_object(record),
            meta: None,
            links: None,
        },
    )
    .into_response())
}

async fn remove<R>(State(state): State<AdminState>, Path(raw_id): Path<String>) -> Result<Response, AppError>
where
    R: Resource,
    AdminServices: ServiceFor<R>,
{
    ServiceFor::<R>::service(&*state)
        .delete(parse_id::<R>(&raw_id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
