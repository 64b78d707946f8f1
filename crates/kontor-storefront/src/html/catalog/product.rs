//! Product pages: name, description, images, price (the ORIGINAL price struck through when higher),
//! availability, attributes, the variants and the add-to-cart form.
//!
//! A variant is chosen without JavaScript by a GET parameter: `?variant=<concrete sku>` (the variant
//! list's links) or `?attribute[color]=Blue` (the super attribute selects, one per attribute). A product
//! with one variant has it chosen already. Until a variant is chosen, the page shows the abstract
//! product's price, availability and images, and the cart form is disabled; it stays disabled for an
//! unavailable variant. The form posts the chosen variant's concrete SKU to `POST /cart/add`.

use super::PageScope;
use crate::catalog::availability::concrete_availability;
use crate::catalog::fetch::KvReader;
use crate::catalog::images::combined_sets;
use crate::catalog::prices::{DEFAULT_PRICE_TYPE, ORIGINAL_PRICE_TYPE, amounts, volume_amounts};
use crate::catalog::products::{LoadedAbstract, LoadedConcrete, Wants, abstract_id, attribute_label, fetch_abstracts};
use crate::state::StorefrontState;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use kontor_readmodel::storage::{
    PriceProductStorage, ProductAbstractReviewStorage, ProductImageSetStorage, VolumeAmount,
};
use kontor_web::html::{CsrfToken, Session};
use serde::Serialize;
use std::collections::BTreeMap;

/// The query parameter naming the chosen variant by concrete SKU.
const VARIANT_PARAMETER: &str = "variant";

#[derive(Debug, Serialize)]
struct ProductPage {
    sku: String,
    name: String,
    description: String,
    /// The page's path (the variant forms' target).
    action: String,
    images: Vec<PageImage>,
    /// DEFAULT price of the chosen variant, else of the product, in minor units.
    price: Option<i64>,
    /// ORIGINAL price, only when higher than `price`.
    original: Option<i64>,
    /// Lower unit prices from a quantity on, of the price shown.
    volume_prices: Vec<VolumeAmount>,
    /// Average and count of approved reviews, when there are any.
    rating: Option<ProductAbstractReviewStorage>,
    available: bool,
    attributes: Vec<AttributeRow>,
    /// One select per super attribute.
    selectors: Vec<Selector>,
    variants: Vec<VariantRow>,
    chosen: Option<ChosenVariant>,
    /// Whether the add-to-cart form is enabled.
    can_add: bool,
    /// Why it is not, for the shopper.
    hint: Option<String>,
}

#[derive(Debug, Serialize)]
struct PageImage {
    small: String,
    large: String,
    alt: String,
}

#[derive(Debug, Serialize)]
struct AttributeRow {
    key: String,
    label: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Selector {
    key: String,
    label: String,
    /// The form field: `attribute[<key>]`.
    field: String,
    options: Vec<SelectOption>,
}

#[derive(Debug, Serialize)]
struct SelectOption {
    value: String,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct VariantRow {
    sku: String,
    name: String,
    /// The super attribute values that tell it apart.
    values: Vec<AttributeRow>,
    price: Option<i64>,
    original: Option<i64>,
    available: bool,
    selected: bool,
    href: String,
}

#[derive(Debug, Serialize)]
struct ChosenVariant {
    sku: String,
    name: String,
}

/// `GET /product/{sku}`: the SKU mapping, then the product's documents in two batched reads.
pub(super) async fn by_sku(
    State(state): State<StorefrontState>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(sku): Path<String>,
) -> Response {
    let scope = match PageScope::open(&state, &session, &csrf, &uri, None).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let mut reader = scope.reader();
    match abstract_id(&mut reader, &scope.ctx, sku.trim()).await {
        Ok(id) => page_with(&scope, &mut reader, id).await,
        Err(error) => scope.error(&error),
    }
}

/// The page of abstract product `id` (also reached by the product's URL).
pub(super) async fn page(scope: &PageScope, id: i64) -> Response {
    let mut reader = scope.reader();
    page_with(scope, &mut reader, id).await
}

async fn page_with(scope: &PageScope, reader: &mut KvReader<'_>, id: i64) -> Response {
    let loaded = match fetch_abstracts(reader, &scope.ctx, Wants::all_but_categories(), &[id]).await {
        Ok(mut loaded) => loaded.pop(),
        Err(error) => return scope.error(&error),
    };
    let Some(loaded) = loaded else {
        return scope.not_found();
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(scope.query().unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let page = product_page(reader, scope, &loaded, &pairs);
    scope.render("storefront/product.html", page)
}

/// The attributes the variants differ in, with every value each takes.
fn super_attributes(loaded: &LoadedAbstract) -> &BTreeMap<String, Vec<String>> {
    &loaded.product.attribute_map.super_attributes
}

/// The values of super attribute `key` the variants have, in the page's locale (the abstract's
/// attribute map holds the values of the import's locale, which a German page would not match).
fn variant_values(loaded: &LoadedAbstract, key: &str, mapped: &[String]) -> Vec<String> {
    let mut values: Vec<String> = loaded
        .concretes
        .iter()
        .filter_map(|variant| variant.concrete.attributes.get(key).cloned())
        .collect();
    values.sort();
    values.dedup();
    if values.is_empty() { mapped.to_vec() } else { values }
}

/// The variant the query chooses and the super attribute values it selects.
fn choose<'l>(
    loaded: &'l LoadedAbstract,
    pairs: &[(String, String)],
) -> (Option<&'l LoadedConcrete>, BTreeMap<String, String>) {
    let value_of = |name: &str| {
        pairs
            .iter()
            .find(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
    };
    let values_of = |variant: &LoadedConcrete| -> BTreeMap<String, String> {
        super_attributes(loaded)
            .keys()
            .filter_map(|key| Some((key.clone(), variant.concrete.attributes.get(key)?.clone())))
            .collect()
    };
    if let Some(sku) = value_of(VARIANT_PARAMETER)
        && let Some(variant) = loaded
            .concretes
            .iter()
            .find(|variant| variant.concrete.sku.eq_ignore_ascii_case(sku))
    {
        return (Some(variant), values_of(variant));
    }
    if let [only] = loaded.concretes.as_slice() {
        return (Some(only), values_of(only));
    }
    let selected: BTreeMap<String, String> = super_attributes(loaded)
        .keys()
        .filter_map(|key| Some((key.clone(), value_of(&format!("attribute[{key}]"))?.to_owned())))
        .collect();
    let complete = !selected.is_empty() && selected.len() == super_attributes(loaded).len();
    let chosen = complete
        .then(|| {
            loaded.concretes.iter().find(|variant| {
                selected
                    .iter()
                    .all(|(key, value)| variant.concrete.attributes.get(key) == Some(value))
            })
        })
        .flatten();
    (chosen, selected)
}

/// DEFAULT and ORIGINAL (only when higher) of `own` prices, types it lacks from `fallback`.
fn shown_prices(
    own: Option<&PriceProductStorage>,
    fallback: Option<&PriceProductStorage>,
    scope: &PageScope,
) -> (Option<i64>, Option<i64>) {
    let amounts = amounts(own, fallback, &scope.pricing);
    let price = amounts.get(DEFAULT_PRICE_TYPE).copied();
    let original = amounts
        .get(ORIGINAL_PRICE_TYPE)
        .copied()
        .filter(|original| price.is_some_and(|price| *original > price));
    (price, original)
}

fn page_images(sets: &[&ProductImageSetStorage], name: &str) -> Vec<PageImage> {
    let mut images: Vec<PageImage> = Vec::new();
    for image in sets.iter().flat_map(|set| set.images.iter()) {
        if !images.iter().any(|known| known.large == image.external_url_large) {
            images.push(PageImage {
                small: image.external_url_small.clone(),
                large: image.external_url_large.clone(),
                alt: String::new(),
            });
        }
    }
    let total = images.len();
    for (index, image) in images.iter_mut().enumerate() {
        image.alt = if total == 1 {
            name.to_owned()
        } else {
            format!("{name}, picture {} of {total}", index + 1)
        };
    }
    images
}

fn product_page(
    reader: &KvReader<'_>,
    scope: &PageScope,
    loaded: &LoadedAbstract,
    pairs: &[(String, String)],
) -> ProductPage {
    let product = &loaded.product;
    let locale = &scope.ctx.locale;
    let action = scope.path().to_owned();
    let (chosen, selected) = choose(loaded, pairs);
    let (own_prices, fallback_prices) = match chosen {
        Some(variant) => (variant.prices.as_ref(), loaded.prices.as_ref()),
        None => (loaded.prices.as_ref(), None),
    };
    let (price, original) = shown_prices(own_prices, fallback_prices, scope);
    let volume_prices = volume_amounts(own_prices, fallback_prices, &scope.pricing).to_vec();
    let variant_available = |variant: &LoadedConcrete| {
        concrete_availability(loaded.availability.as_ref(), &variant.concrete.sku)
            .is_some_and(|availability| availability.is_available)
    };
    let available = match chosen {
        Some(variant) => variant_available(variant),
        None => loaded
            .availability
            .as_ref()
            .is_some_and(|availability| availability.is_available),
    };
    let own_images: &[ProductImageSetStorage] = chosen.map_or(&[], |variant| &variant.images);
    let images = page_images(&combined_sets(own_images, &loaded.images), &product.name);

    // The product's attributes, the chosen variant's winning where both have one.
    let mut attribute_values = product.attributes.clone();
    if let Some(variant) = chosen {
        attribute_values.extend(variant.concrete.attributes.clone());
    }
    let row = |key: &String, value: &String| AttributeRow {
        key: key.clone(),
        label: attribute_label(reader, locale, key),
        value: value.clone(),
    };
    let attributes = attribute_values.iter().map(|(key, value)| row(key, value)).collect();

    let selectors = if loaded.concretes.len() > 1 {
        super_attributes(loaded)
            .iter()
            .map(|(key, values)| Selector {
                key: key.clone(),
                label: attribute_label(reader, locale, key),
                field: format!("attribute[{key}]"),
                options: variant_values(loaded, key, values)
                    .into_iter()
                    .map(|value| SelectOption {
                        selected: selected.get(key) == Some(&value),
                        value,
                    })
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let variants = loaded
        .concretes
        .iter()
        .map(|variant| {
            let (price, original) = shown_prices(variant.prices.as_ref(), loaded.prices.as_ref(), scope);
            let values = super_attributes(loaded)
                .keys()
                .filter_map(|key| Some(row(key, variant.concrete.attributes.get(key)?)))
                .collect();
            let href = {
                let mut serializer = url::form_urlencoded::Serializer::new(String::new());
                serializer.append_pair(VARIANT_PARAMETER, &variant.concrete.sku);
                format!("{action}?{}", serializer.finish())
            };
            VariantRow {
                sku: variant.concrete.sku.clone(),
                name: variant.concrete.name.clone(),
                values,
                price,
                original,
                available: variant_available(variant),
                selected: chosen.is_some_and(|chosen| chosen.concrete.sku == variant.concrete.sku),
                href,
            }
        })
        .collect();
    let hint = match chosen {
        None if loaded.concretes.is_empty() => Some("This product cannot be ordered at the moment.".to_owned()),
        None if selected.len() == super_attributes(loaded).len() && !selected.is_empty() => {
            Some("No variant has this combination; please choose another one.".to_owned())
        }
        None => Some("Please choose a variant first.".to_owned()),
        Some(_) if !available => Some("This variant is out of stock.".to_owned()),
        Some(_) => None,
    };
    ProductPage {
        sku: product.sku.clone(),
        name: product.name.clone(),
        description: product.description.clone(),
        action,
        images,
        price,
        original,
        volume_prices,
        rating: loaded.reviews.clone(),
        available,
        attributes,
        selectors,
        variants,
        chosen: chosen.map(|variant| ChosenVariant {
            sku: variant.concrete.sku.clone(),
            name: variant.concrete.name.clone(),
        }),
        can_add: chosen.is_some() && available,
        hint,
    }
}
