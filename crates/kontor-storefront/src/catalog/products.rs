//! `abstract-products`, `concrete-products` and their nested price, availability and image-set
//! resources (`storefront-api.md` §8.3–§8.4).
//!
//! Reads are batched by step, never per variant: (1) the SKU mapping; (2) the product documents keyed
//! by the product id (abstract document, prices, availability, images); (3) the variants and whatever
//! hangs off them (variant documents, their prices and images, attribute labels, category nodes). A
//! concrete product is read the same way: mapping; its own documents; its abstract's documents (store
//! membership, meta data, inherited prices and images, availability).
//!
//! Concrete documents are locale-scoped, so a concrete is shown in a store only when its abstract has a
//! document in that store × locale; inactive concretes are not shown at all.

use super::availability::{abstract_attributes, concrete_attributes};
use super::categories;
use super::fetch::{Cacheable, KvReader};
use super::images::image_set_attributes;
use super::prices::{Pricing, price_attributes};
use super::reviews;
use super::{attribute_glossary_key, humanize, query_of};
use crate::context::RequestContext;
use crate::document::{Document, Includes, Resource};
use crate::state::StorefrontState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kontor_readmodel::storage::{
    AvailabilityStorage, Mapping, PriceProductStorage, ProductAbstractImageStorage, ProductAbstractReviewStorage,
    ProductAbstractStorage, ProductConcreteImageStorage, ProductConcreteStorage, ProductImageSetStorage,
    ProductReviewEntry, ProductReviewStorage, TranslationStorage, projection,
};
use kontor_readmodel::{key, mapping_key};
use kontor_web::{AppError, ErrorCode};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};

pub(crate) const ABSTRACT_PRODUCTS: &str = "abstract-products";
const CONCRETE_PRODUCTS: &str = "concrete-products";
const ABSTRACT_PRICES: &str = "abstract-product-prices";
const ABSTRACT_AVAILABILITIES: &str = "abstract-product-availabilities";
const ABSTRACT_IMAGE_SETS: &str = "abstract-product-image-sets";
const CONCRETE_PRICES: &str = "concrete-product-prices";
const CONCRETE_AVAILABILITIES: &str = "concrete-product-availabilities";
const CONCRETE_IMAGE_SETS: &str = "concrete-product-image-sets";
const CATEGORY_NODES: &str = "category-nodes";

// ---------------------------------------------------------------------------------------------------
// Keys

/// A document published per store (prices, availability): `<projection>:<store>:<id>`.
fn store_scoped(ctx: &RequestContext, projection: &str, id: i64) -> Option<String> {
    key(projection, Some(&ctx.store.name), None, Some(&id.to_string())).ok()
}

/// A document published per locale (concretes, image sets): `<projection>:<locale>:<id>`.
fn locale_scoped(ctx: &RequestContext, projection: &str, id: i64) -> Option<String> {
    key(projection, None, Some(&ctx.locale), Some(&id.to_string())).ok()
}

fn abstract_key(ctx: &RequestContext, id: i64) -> Option<String> {
    key(
        projection::PRODUCT_ABSTRACT,
        Some(&ctx.store.name),
        Some(&ctx.locale),
        Some(&id.to_string()),
    )
    .ok()
}

fn concrete_key(ctx: &RequestContext, id: i64) -> Option<String> {
    locale_scoped(ctx, projection::PRODUCT_CONCRETE, id)
}

pub(crate) fn abstract_price_key(ctx: &RequestContext, id: i64) -> Option<String> {
    store_scoped(ctx, projection::PRICE_PRODUCT_ABSTRACT, id)
}

fn concrete_price_key(ctx: &RequestContext, id: i64) -> Option<String> {
    store_scoped(ctx, projection::PRICE_PRODUCT_CONCRETE, id)
}

fn availability_key(ctx: &RequestContext, abstract_id: i64) -> Option<String> {
    store_scoped(ctx, projection::AVAILABILITY, abstract_id)
}

pub(crate) fn abstract_image_key(ctx: &RequestContext, id: i64) -> Option<String> {
    locale_scoped(ctx, projection::PRODUCT_ABSTRACT_IMAGE, id)
}

fn concrete_image_key(ctx: &RequestContext, id: i64) -> Option<String> {
    locale_scoped(ctx, projection::PRODUCT_CONCRETE_IMAGE, id)
}

/// `product_abstract_review:<id>`: one document per product, whatever the store or locale.
pub(crate) fn review_summary_key(abstract_id: i64) -> Option<String> {
    key(
        projection::PRODUCT_ABSTRACT_REVIEW,
        None,
        None,
        Some(&abstract_id.to_string()),
    )
    .ok()
}

/// Glue's `averageRating` (null without approved reviews) and `reviewCount`.
fn rating_attributes(reviews: Option<&ProductAbstractReviewStorage>) -> (Option<f64>, i64) {
    reviews.map_or((None, 0), |reviews| {
        (Some(reviews.average_rating), reviews.review_count)
    })
}

pub(crate) fn translation_key(locale: &str, glossary_key: &str) -> Option<String> {
    key(projection::TRANSLATION, None, Some(locale), Some(glossary_key)).ok()
}

/// A fetched translation, left in the reader (several products share attribute labels).
pub(crate) fn translated(reader: &KvReader<'_>, locale: &str, glossary_key: &str) -> Option<String> {
    reader
        .peek::<TranslationStorage>(translation_key(locale, glossary_key).as_deref())
        .map(|translation| translation.value)
}

/// Queues the label translations of these attribute keys.
fn want_labels<'k>(reader: &mut KvReader<'_>, ctx: &RequestContext, keys: impl Iterator<Item = &'k String>) {
    for attribute in keys {
        reader.want(translation_key(&ctx.locale, &attribute_glossary_key(attribute)));
    }
}

/// An attribute's (or value facet's) label: its fetched translation, else its humanized key.
pub(crate) fn attribute_label(reader: &KvReader<'_>, locale: &str, attribute: &str) -> String {
    translated(reader, locale, &attribute_glossary_key(attribute)).unwrap_or_else(|| humanize(attribute))
}

/// `attributeNames`: each attribute's translated label, else its humanized key.
fn attribute_names<'k>(reader: &KvReader<'_>, ctx: &RequestContext, keys: impl Iterator<Item = &'k String>) -> Value {
    let names: Map<String, Value> = keys
        .map(|attribute| {
            let label = attribute_label(reader, &ctx.locale, attribute);
            (attribute.clone(), Value::String(label))
        })
        .collect();
    Value::Object(names)
}

// ---------------------------------------------------------------------------------------------------
// What a request includes

/// Which related documents a product request needs, from `include`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Wants {
    abstract_prices: bool,
    abstract_availability: bool,
    abstract_images: bool,
    concretes: bool,
    concrete_prices: bool,
    concrete_availability: bool,
    concrete_images: bool,
    categories: bool,
    /// The approved reviews in the request's locale (`product-reviews`).
    reviews: bool,
}

impl Wants {
    pub fn from_includes(includes: &Includes) -> Self {
        let concretes = includes.has(CONCRETE_PRODUCTS);
        Self {
            abstract_prices: includes.has(ABSTRACT_PRICES),
            abstract_availability: includes.has(ABSTRACT_AVAILABILITIES),
            abstract_images: includes.has(ABSTRACT_IMAGE_SETS),
            concretes,
            concrete_prices: includes.has(CONCRETE_PRICES),
            concrete_availability: includes.has(CONCRETE_AVAILABILITIES),
            concrete_images: includes.has(CONCRETE_IMAGE_SETS),
            categories: includes.has(CATEGORY_NODES),
            reviews: includes.has(reviews::PRODUCT_REVIEWS),
        }
    }

    /// Everything a product page shows: the product's and every variant's prices, availability and
    /// images; not its category nodes.
    pub fn all_but_categories() -> Self {
        Self {
            abstract_prices: true,
            abstract_availability: true,
            abstract_images: true,
            concretes: true,
            concrete_prices: true,
            concrete_availability: true,
            concrete_images: true,
            categories: false,
            reviews: false,
        }
    }

    /// Variant-level includes matter for an abstract only when its variants are included.
    fn for_abstract(self) -> Self {
        Self {
            concrete_prices: self.concretes && self.concrete_prices,
            concrete_availability: self.concretes && self.concrete_availability,
            concrete_images: self.concretes && self.concrete_images,
            ..self
        }
    }
}

/// One rendered resource with everything it relates to (to be `included`).
pub(crate) struct Rendered {
    pub resource: Resource,
    pub related: Vec<Resource>,
}

// ---------------------------------------------------------------------------------------------------
// Abstract products

fn abstract_not_found(sku: &str) -> AppError {
    AppError::new(
        ErrorCode::AbstractProductNotFound,
        format!("abstract product {sku} was not found"),
    )
}

fn concrete_not_found(sku: &str) -> AppError {
    AppError::new(
        ErrorCode::ConcreteProductNotFound,
        format!("concrete product {sku} was not found"),
    )
}

pub(crate) async fn abstract_sku_missing() -> AppError {
    AppError::new(
        ErrorCode::AbstractSkuMissing,
        "the abstract product SKU is missing in the path",
    )
}

pub(crate) async fn concrete_sku_missing() -> AppError {
    AppError::new(
        ErrorCode::ConcreteSkuMissing,
        "the concrete product SKU is missing in the path",
    )
}

/// Round trip 1: the abstract product id behind a SKU in the request's store × locale.
pub(crate) async fn abstract_id(reader: &mut KvReader<'_>, ctx: &RequestContext, sku: &str) -> Result<i64, AppError> {
    let mapping = mapping_key(
        projection::PRODUCT_ABSTRACT,
        Some(&ctx.store.name),
        Some(&ctx.locale),
        "sku",
        sku,
    )
    .ok();
    reader.want(mapping.clone());
    reader.flush().await?;
    reader
        .take::<Mapping>(mapping.as_deref())
        .map(|mapping| mapping.id)
        .ok_or_else(|| abstract_not_found(sku))
}

/// An abstract product's documents and its active variants', taken out of the reader: what the
/// JSON:API renders as resources and the HTML shop as pages.
pub(crate) struct LoadedAbstract {
    pub product: ProductAbstractStorage,
    pub prices: Option<PriceProductStorage>,
    pub availability: Option<AvailabilityStorage>,
    pub images: Vec<ProductImageSetStorage>,
    /// Average rating and count of approved reviews; `None` without any.
    pub reviews: Option<ProductAbstractReviewStorage>,
    /// The approved reviews in the request's locale, newest first, when `product-reviews` is included.
    pub review_list: Vec<ProductReviewEntry>,
    /// The active variants, in the attribute map's order.
    pub concretes: Vec<LoadedConcrete>,
}

/// A variant with its own documents (it inherits the abstract's prices and image sets it lacks).
pub(crate) struct LoadedConcrete {
    pub concrete: ProductConcreteStorage,
    pub prices: Option<PriceProductStorage>,
    pub images: Vec<ProductImageSetStorage>,
}

/// Loads abstract products by id with what `wants` includes, in the order of `ids` (ids without a
/// document in the store × locale are skipped). Two KV round trips for any number of products and
/// variants; the attribute labels and, with `categories`, the category nodes stay in the reader.
pub(crate) async fn fetch_abstracts(
    reader: &mut KvReader<'_>,
    ctx: &RequestContext,
    wants: Wants,
    ids: &[i64],
) -> Result<Vec<LoadedAbstract>, AppError> {
    let wants = wants.for_abstract();
    // Round trip 2: everything keyed by the abstract id.
    for id in ids {
        reader.want(abstract_key(ctx, *id));
        if wants.abstract_prices || wants.concrete_prices {
            reader.want(abstract_price_key(ctx, *id));
        }
        if wants.abstract_availability || wants.concrete_availability {
            reader.want(availability_key(ctx, *id));
        }
        if wants.abstract_images || wants.concrete_images {
            reader.want(abstract_image_key(ctx, *id));
        }
        reader.want(review_summary_key(*id));
        if wants.reviews {
            reader.want(reviews::review_list_key(ctx, *id));
        }
    }
    reader.flush().await?;
    let mut products = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(product) = reader.take::<ProductAbstractStorage>(abstract_key(ctx, *id).as_deref()) else {
            continue;
        };
        products.push(LoadedAbstract {
            prices: reader.take(abstract_price_key(ctx, *id).as_deref()),
            availability: reader.take(availability_key(ctx, *id).as_deref()),
            reviews: reader.take(review_summary_key(*id).as_deref()),
            review_list: reader
                .take::<ProductReviewStorage>(reviews::review_list_key(ctx, *id).as_deref())
                .map(|list| list.reviews)
                .unwrap_or_default(),
            // Peeked, not taken: catalog-search reads the same document for its listing images.
            images: reader
                .peek::<ProductAbstractImageStorage>(abstract_image_key(ctx, *id).as_deref())
                .map(|images| images.image_sets)
                .unwrap_or_default(),
            concretes: Vec::new(),
            product,
        });
    }

    // Round trip 3: variants (their SKUs are part of every abstract's attribute map), labels,
    // category nodes, and the variants' prices and images when included.
    let mut node_ids = BTreeSet::new();
    for loaded in &products {
        let product = &loaded.product;
        for concrete_id in &product.attribute_map.product_concrete_ids {
            reader.want(concrete_key(ctx, *concrete_id));
            if wants.concrete_prices {
                reader.want(concrete_price_key(ctx, *concrete_id));
            }
            if wants.concrete_images {
                reader.want(concrete_image_key(ctx, *concrete_id));
            }
        }
        want_labels(
            reader,
            ctx,
            product
                .attributes
                .keys()
                .chain(product.super_attributes_definition.iter()),
        );
        if wants.categories {
            node_ids.extend(product.category_node_ids.iter().copied());
        }
    }
    if wants.categories {
        categories::want_nodes(reader, ctx, node_ids.iter().copied());
    }
    reader.flush().await?;
    for loaded in &mut products {
        for concrete_id in &loaded.product.attribute_map.product_concrete_ids {
            let Some(concrete) = reader
                .take::<ProductConcreteStorage>(concrete_key(ctx, *concrete_id).as_deref())
                .filter(|concrete| concrete.is_active)
            else {
                continue;
            };
            let prices = if wants.concrete_prices {
                reader.take(concrete_price_key(ctx, *concrete_id).as_deref())
            } else {
                None
            };
            let images = if wants.concrete_images {
                reader
                    .take::<ProductConcreteImageStorage>(concrete_image_key(ctx, *concrete_id).as_deref())
                    .map(|images| images.image_sets)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            loaded.concretes.push(LoadedConcrete {
                concrete,
                prices,
                images,
            });
        }
    }
    Ok(products)
}

/// Loads and renders abstract products by id with what `wants` includes, in the order of `ids`
/// (ids without a document in the store × locale are skipped). Two KV round trips for any number of
/// products and variants, three with category nodes.
pub(crate) async fn load_abstracts(
    reader: &mut KvReader<'_>,
    ctx: &RequestContext,
    pricing: &Pricing,
    wants: Wants,
    ids: &[i64],
) -> Result<Vec<Rendered>, AppError> {
    let wants = wants.for_abstract();
    let products = fetch_abstracts(reader, ctx, wants, ids).await?;
    let nodes = if wants.categories {
        let node_ids: BTreeSet<i64> = products
            .iter()
            .flat_map(|loaded| loaded.product.category_node_ids.iter().copied())
            .collect();
        categories::render_nodes(reader, ctx, &node_ids.into_iter().collect::<Vec<_>>()).await?
    } else {
        HashMap::new()
    };
    Ok(products
        .iter()
        .map(|loaded| render_abstract(reader, ctx, pricing, wants, loaded, &nodes))
        .collect())
}

fn render_abstract(
    reader: &KvReader<'_>,
    ctx: &RequestContext,
    pricing: &Pricing,
    wants: Wants,
    loaded: &LoadedAbstract,
    nodes: &HashMap<i64, Resource>,
) -> Rendered {
    let product = &loaded.product;
    let sku = product.sku.as_str();
    let sku_of: HashMap<i64, &str> = loaded
        .concretes
        .iter()
        .map(|variant| (variant.concrete.id_product_concrete, variant.concrete.sku.as_str()))
        .collect();
    let map = &product.attribute_map;
    let variants: Map<String, Value> = map
        .attribute_variants
        .iter()
        .filter_map(|(combination, variant)| {
            let sku = sku_of.get(&variant.id_product_concrete)?;
            Some((combination.clone(), json!({"id_product_concrete": sku})))
        })
        .collect();
    let concrete_skus: Vec<&str> = map
        .product_concrete_ids
        .iter()
        .filter_map(|id| sku_of.get(id).copied())
        .collect();
    let (average_rating, review_count) = rating_attributes(loaded.reviews.as_ref());
    let attributes = json!({
        "sku": sku,
        "averageRating": average_rating,
        "reviewCount": review_count,
        "name": product.name,
        "description": product.description,
        "attributes": product.attributes,
        "superAttributesDefinition": product.super_attributes_definition,
        "superAttributes": map.super_attributes,
        "attributeMap": {
            "product_concrete_ids": concrete_skus,
            "super_attributes": map.super_attributes,
            "attribute_variants": variants,
        },
        "metaTitle": product.meta_title,
        "metaKeywords": product.meta_keywords,
        "metaDescription": product.meta_description,
        "attributeNames": attribute_names(
            reader,
            ctx,
            product.attributes.keys().chain(product.super_attributes_definition.iter()),
        ),
        "url": product.url,
    });
    let mut resource = Resource::new(ctx, ABSTRACT_PRODUCTS, sku, attributes);
    let mut related = Vec::new();
    if wants.abstract_prices {
        let prices = abstract_prices_resource(ctx, sku, price_attributes(loaded.prices.as_ref(), None, pricing));
        resource.relate(&prices);
        related.push(prices);
    }
    if wants.abstract_availability {
        let availability = abstract_availability_resource(ctx, sku, loaded.availability.as_ref());
        resource.relate(&availability);
        related.push(availability);
    }
    if wants.abstract_images {
        let images = abstract_images_resource(ctx, sku, &loaded.images);
        resource.relate(&images);
        related.push(images);
    }
    if wants.reviews {
        for entry in &loaded.review_list {
            let review = reviews::entry_resource(ctx, sku, entry);
            resource.relate(&review);
            related.push(review);
        }
    }
    if wants.concretes {
        for variant in &loaded.concretes {
            let view = ConcreteView {
                concrete: &variant.concrete,
                product,
                prices: variant.prices.as_ref(),
                abstract_prices: loaded.prices.as_ref(),
                availability: loaded.availability.as_ref(),
                images: &variant.images,
                abstract_images: &loaded.images,
                reviews: loaded.reviews.as_ref(),
            };
            let Rendered {
                resource: concrete_resource,
                related: concrete_related,
            } = render_concrete(reader, ctx, pricing, wants, &view);
            resource.relate(&concrete_resource);
            related.push(concrete_resource);
            related.extend(concrete_related);
        }
    }
    if wants.categories {
        for node_id in &product.category_node_ids {
            if let Some(node) = nodes.get(node_id) {
                resource.relate(node);
                related.push(node.clone());
            }
        }
    }
    Rendered { resource, related }
}

fn nested_link(ctx: &RequestContext, parent: &str, sku: &str, kind: &str) -> Option<String> {
    Some(format!("{}/{parent}/{sku}/{kind}", ctx.api_base))
}

fn abstract_prices_resource(ctx: &RequestContext, sku: &str, attributes: Value) -> Resource {
    Resource::with_link(
        ABSTRACT_PRICES,
        Some(sku),
        attributes,
        nested_link(ctx, ABSTRACT_PRODUCTS, sku, ABSTRACT_PRICES),
    )
}

fn abstract_availability_resource(ctx: &RequestContext, sku: &str, document: Option<&AvailabilityStorage>) -> Resource {
    Resource::with_link(
        ABSTRACT_AVAILABILITIES,
        Some(sku),
        abstract_attributes(document),
        nested_link(ctx, ABSTRACT_PRODUCTS, sku, ABSTRACT_AVAILABILITIES),
    )
}

fn abstract_images_resource(ctx: &RequestContext, sku: &str, sets: &[ProductImageSetStorage]) -> Resource {
    Resource::with_link(
        ABSTRACT_IMAGE_SETS,
        Some(sku),
        image_set_attributes(sets, &[]),
        nested_link(ctx, ABSTRACT_PRODUCTS, sku, ABSTRACT_IMAGE_SETS),
    )
}

/// `GET /abstract-products/{sku}`.
pub(crate) async fn abstract_product(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let pricing = Pricing::from_request(&ctx)?;
    let wants = Wants::from_includes(&Includes::from_query(query_of(&ctx)));
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let id = abstract_id(&mut reader, &ctx, &sku).await?;
    let Some(rendered) = load_abstracts(&mut reader, &ctx, &pricing, wants, &[id]).await?.pop() else {
        return Err(abstract_not_found(&sku));
    };
    let mut document = Document::one(rendered.resource);
    for related in rendered.related {
        document.include(related);
    }
    Ok(reader.respond(document, &ctx, &headers))
}

/// One document of an abstract product by SKU: round trip 1 the mapping, round trip 2 the document.
pub(crate) async fn abstract_part<T: serde::de::DeserializeOwned>(
    reader: &mut KvReader<'_>,
    ctx: &RequestContext,
    sku: &str,
    key_of: fn(&RequestContext, i64) -> Option<String>,
) -> Result<(Option<T>, String), AppError> {
    let id = abstract_id(reader, ctx, sku).await?;
    // The abstract document is read too, for the SKU's stored spelling (ids use it, not the path's).
    reader.want(abstract_key(ctx, id));
    reader.want(key_of(ctx, id));
    reader.flush().await?;
    let stored_sku = reader
        .take::<ProductAbstractStorage>(abstract_key(ctx, id).as_deref())
        .map(|product| product.sku)
        .ok_or_else(|| abstract_not_found(sku))?;
    Ok((reader.take(key_of(ctx, id).as_deref()), stored_sku))
}

/// `GET /abstract-products/{sku}/abstract-product-prices`.
pub(crate) async fn abstract_prices(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let pricing = Pricing::from_request(&ctx)?;
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let (prices, sku) = abstract_part::<PriceProductStorage>(&mut reader, &ctx, &sku, abstract_price_key).await?;
    let resource = abstract_prices_resource(&ctx, &sku, price_attributes(prices.as_ref(), None, &pricing));
    Ok(reader.respond(Document::many(vec![resource]), &ctx, &headers))
}

/// `GET /abstract-products/{sku}/abstract-product-availabilities`.
pub(crate) async fn abstract_availabilities(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let (availability, sku) = abstract_part::<AvailabilityStorage>(&mut reader, &ctx, &sku, availability_key).await?;
    let resource = abstract_availability_resource(&ctx, &sku, availability.as_ref());
    Ok(reader.respond(Document::many(vec![resource]), &ctx, &headers))
}

/// `GET /abstract-products/{sku}/abstract-product-image-sets`.
pub(crate) async fn abstract_image_sets(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let (images, sku) =
        abstract_part::<ProductAbstractImageStorage>(&mut reader, &ctx, &sku, abstract_image_key).await?;
    let sets = images.map(|images| images.image_sets).unwrap_or_default();
    let resource = abstract_images_resource(&ctx, &sku, &sets);
    Ok(reader.respond(Document::many(vec![resource]), &ctx, &headers))
}

// ---------------------------------------------------------------------------------------------------
// Concrete products

/// A concrete product with the documents it is rendered from.
struct ConcreteView<'v> {
    concrete: &'v ProductConcreteStorage,
    product: &'v ProductAbstractStorage,
    prices: Option<&'v PriceProductStorage>,
    abstract_prices: Option<&'v PriceProductStorage>,
    availability: Option<&'v AvailabilityStorage>,
    images: &'v [ProductImageSetStorage],
    abstract_images: &'v [ProductImageSetStorage],
    /// The abstract product's rating, which its variants show.
    reviews: Option<&'v ProductAbstractReviewStorage>,
}

fn concrete_prices_resource(ctx: &RequestContext, view: &ConcreteView<'_>, pricing: &Pricing) -> Resource {
    let sku = view.concrete.sku.as_str();
    Resource::with_link(
        CONCRETE_PRICES,
        Some(sku),
        price_attributes(view.prices, view.abstract_prices, pricing),
        nested_link(ctx, CONCRETE_PRODUCTS, sku, CONCRETE_PRICES),
    )
}

fn concrete_availability_resource(ctx: &RequestContext, view: &ConcreteView<'_>) -> Resource {
    let sku = view.concrete.sku.as_str();
    Resource::with_link(
        CONCRETE_AVAILABILITIES,
        Some(sku),
        concrete_attributes(view.availability, sku),
        nested_link(ctx, CONCRETE_PRODUCTS, sku, CONCRETE_AVAILABILITIES),
    )
}

fn concrete_images_resource(ctx: &RequestContext, view: &ConcreteView<'_>) -> Resource {
    let sku = view.concrete.sku.as_str();
    Resource::with_link(
        CONCRETE_IMAGE_SETS,
        Some(sku),
        image_set_attributes(view.images, view.abstract_images),
        nested_link(ctx, CONCRETE_PRODUCTS, sku, CONCRETE_IMAGE_SETS),
    )
}

fn render_concrete(
    reader: &KvReader<'_>,
    ctx: &RequestContext,
    pricing: &Pricing,
    wants: Wants,
    view: &ConcreteView<'_>,
) -> Rendered {
    let concrete = view.concrete;
    let (average_rating, review_count) = rating_attributes(view.reviews);
    let attributes = json!({
        "sku": concrete.sku,
        "isDiscontinued": false,
        "discontinuedNote": null,
        "averageRating": average_rating,
        "reviewCount": review_count,
        "productAbstractSku": concrete.abstract_sku,
        "name": concrete.name,
        "description": concrete.description,
        "attributes": concrete.attributes,
        "superAttributesDefinition": concrete.super_attributes_definition,
        // Kontor keeps meta data on the abstract product only; variants show their product's.
        "metaTitle": view.product.meta_title,
        "metaKeywords": view.product.meta_keywords,
        "metaDescription": view.product.meta_description,
        "attributeNames": attribute_names(reader, ctx, concrete.attributes.keys()),
    });
    let mut resource = Resource::new(ctx, CONCRETE_PRODUCTS, &concrete.sku, attributes);
    let mut related = Vec::new();
    if wants.concrete_prices {
        let prices = concrete_prices_resource(ctx, view, pricing);
        resource.relate(&prices);
        related.push(prices);
    }
    if wants.concrete_availability {
        let availability = concrete_availability_resource(ctx, view);
        resource.relate(&availability);
        related.push(availability);
    }
    if wants.concrete_images {
        let images = concrete_images_resource(ctx, view);
        resource.relate(&images);
        related.push(images);
    }
    Rendered { resource, related }
}

/// A concrete product's documents, owned.
struct ConcreteParts {
    concrete: ProductConcreteStorage,
    product: ProductAbstractStorage,
    prices: Option<PriceProductStorage>,
    abstract_prices: Option<PriceProductStorage>,
    availability: Option<AvailabilityStorage>,
    images: Vec<ProductImageSetStorage>,
    abstract_images: Vec<ProductImageSetStorage>,
    reviews: Option<ProductAbstractReviewStorage>,
}

impl ConcreteParts {
    fn view(&self) -> ConcreteView<'_> {
        ConcreteView {
            concrete: &self.concrete,
            product: &self.product,
            prices: self.prices.as_ref(),
            abstract_prices: self.abstract_prices.as_ref(),
            availability: self.availability.as_ref(),
            images: &self.images,
            abstract_images: &self.abstract_images,
            reviews: self.reviews.as_ref(),
        }
    }
}

/// Loads a concrete product by SKU in three round trips: mapping; its own documents; its abstract's.
async fn load_concrete(
    reader: &mut KvReader<'_>,
    ctx: &RequestContext,
    sku: &str,
    wants: Wants,
    with_labels: bool,
) -> Result<ConcreteParts, AppError> {
    let mapping = mapping_key(projection::PRODUCT_CONCRETE, None, Some(&ctx.locale), "sku", sku).ok();
    reader.want(mapping.clone());
    reader.flush().await?;
    let id = reader
        .take::<Mapping>(mapping.as_deref())
        .map(|mapping| mapping.id)
        .ok_or_else(|| concrete_not_found(sku))?;

    reader.want(concrete_key(ctx, id));
    if wants.concrete_prices {
        reader.want(concrete_price_key(ctx, id));
    }
    if wants.concrete_images {
        reader.want(concrete_image_key(ctx, id));
    }
    reader.flush().await?;
    let concrete = reader
        .take::<ProductConcreteStorage>(concrete_key(ctx, id).as_deref())
        .filter(|concrete| concrete.is_active)
        .ok_or_else(|| concrete_not_found(sku))?;
    let prices = reader.take(concrete_price_key(ctx, id).as_deref());
    let images = reader
        .take::<ProductConcreteImageStorage>(concrete_image_key(ctx, id).as_deref())
        .map(|images| images.image_sets)
        .unwrap_or_default();

    let abstract_id = concrete.id_product_abstract;
    reader.want(abstract_key(ctx, abstract_id));
    if wants.concrete_prices {
        reader.want(abstract_price_key(ctx, abstract_id));
    }
    if wants.concrete_availability {
        reader.want(availability_key(ctx, abstract_id));
    }
    if wants.concrete_images {
        reader.want(abstract_image_key(ctx, abstract_id));
    }
    if with_labels {
        want_labels(reader, ctx, concrete.attributes.keys());
        reader.want(review_summary_key(abstract_id));
    }
    reader.flush().await?;
    let product = reader
        .take::<ProductAbstractStorage>(abstract_key(ctx, abstract_id).as_deref())
        .ok_or_else(|| concrete_not_found(sku))?;
    Ok(ConcreteParts {
        prices,
        abstract_prices: reader.take(abstract_price_key(ctx, abstract_id).as_deref()),
        availability: reader.take(availability_key(ctx, abstract_id).as_deref()),
        images,
        abstract_images: reader
            .take::<ProductAbstractImageStorage>(abstract_image_key(ctx, abstract_id).as_deref())
            .map(|images| images.image_sets)
            .unwrap_or_default(),
        reviews: reader.take(review_summary_key(abstract_id).as_deref()),
        concrete,
        product,
    })
}

/// `GET /concrete-products/{sku}`.
pub(crate) async fn concrete_product(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let pricing = Pricing::from_request(&ctx)?;
    let wants = Wants::from_includes(&Includes::from_query(query_of(&ctx)));
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let parts = load_concrete(&mut reader, &ctx, &sku, wants, true).await?;
    let rendered = render_concrete(&reader, &ctx, &pricing, wants, &parts.view());
    let mut document = Document::one(rendered.resource);
    for related in rendered.related {
        document.include(related);
    }
    Ok(reader.respond(document, &ctx, &headers))
}

/// `GET /concrete-products/{sku}/concrete-product-prices`.
pub(crate) async fn concrete_prices(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let pricing = Pricing::from_request(&ctx)?;
    let wants = Wants {
        concrete_prices: true,
        ..Wants::default()
    };
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let parts = load_concrete(&mut reader, &ctx, &sku, wants, false).await?;
    let resource = concrete_prices_resource(&ctx, &parts.view(), &pricing);
    Ok(reader.respond(Document::many(vec![resource]), &ctx, &headers))
}

/// `GET /concrete-products/{sku}/concrete-product-availabilities`.
pub(crate) async fn concrete_availabilities(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let wants = Wants {
        concrete_availability: true,
        ..Wants::default()
    };
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let parts = load_concrete(&mut reader, &ctx, &sku, wants, false).await?;
    let resource = concrete_availability_resource(&ctx, &parts.view());
    Ok(reader.respond(Document::many(vec![resource]), &ctx, &headers))
}

/// `GET /concrete-products/{sku}/concrete-product-image-sets`.
pub(crate) async fn concrete_image_sets(
    State(state): State<StorefrontState>,
    ctx: RequestContext,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, AppError> {
    let wants = Wants {
        concrete_images: true,
        ..Wants::default()
    };
    let mut reader = match KvReader::cacheable(&state, &ctx, &headers) {
        Cacheable::Hit(response) => return Ok(response),
        Cacheable::Miss(reader) => reader,
    };
    let parts = load_concrete(&mut reader, &ctx, &sku, wants, false).await?;
    let resource = concrete_images_resource(&ctx, &parts.view());
    Ok(reader.respond(Document::many(vec![resource]), &ctx, &headers))
}
