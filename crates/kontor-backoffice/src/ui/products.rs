//! Products in the Back Office: viewing needs catalog.read, every change catalog.write, image uploads
//! files.write.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/backoffice/products?sku=&name=&page=` | abstract products, searched by SKU prefix and name, paged |
//! | GET | `/backoffice/products/{id}` | one abstract product: texts per locale, attributes, variants, prices, stock, images |
//! | POST | `/backoffice/products/{id}` | save the name and description per locale |
//! | POST | `/backoffice/products/{id}/prices` | change a price (`price=<id>`) or add one (`price=new`); amounts as decimal text |
//! | POST | `/backoffice/products/{id}/stock` | change a stock row (`stock=<id>`) or add one (`stock=new`) |
//! | POST | `/backoffice/products/{id}/images?_csrf=` | multipart upload (`image`) to the file store |
//!
//! Every change goes through the same [`ResourceService`](kontor_domain::ResourceService) as the admin
//! API, so it is validated the same way and writes its outbox rows, which publish & sync carries to
//! the storefront. A failed submission shows the product again (422) with the message next to the
//! field and what was typed; a successful one redirects (post/redirect/get) with a flash message,
//! tells other editors of the product ([`announce_change`]) and leaves what changed, old and new
//! value, for the guard's audit entry.
//!
//! Images are stored under `public/images/products/<id>/` and listed from there. The catalog domain
//! has no image-set resource yet (image sets are written by the importer only), so an uploaded image
//! is not attached to the product's image set and does not reach the storefront by itself.

mod images;

use super::audit::Pager;
use super::ws::announce_change;
use super::{Layout, flash, render};
use crate::acl::{AuditDetail, GuardedRouter, Principal};
use crate::state::AdminState;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use kontor_core::ids::ProductAbstractId;
use kontor_core::{CurrencyCode, LocaleName, PageRequest, Sku, StoreName};
use kontor_domain::acl::Permission;
use kontor_domain::catalog::{AbstractLocalized, ProductAbstractAttributes};
use kontor_domain::pricing::{PRICE_TYPE_DEFAULT, PRICE_TYPE_ORIGINAL, PriceAttributes};
use kontor_domain::stock::StockAttributes;
use kontor_domain::{DomainError, ListQuery, Record, Resource, ResourceService};
use kontor_web::html::forms::{FORM, field_name};
use kontor_web::html::{CsrfToken, FormErrors, FormFields, Session};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .get("/backoffice/products", Permission::CatalogRead, list)
        .get("/backoffice/products/{id}", Permission::CatalogRead, show)
        .post("/backoffice/products/{id}", Permission::CatalogWrite, save_texts)
        .post("/backoffice/products/{id}/prices", Permission::CatalogWrite, save_price)
        .post("/backoffice/products/{id}/stock", Permission::CatalogWrite, save_stock)
        .post(
            "/backoffice/products/{id}/images",
            Permission::FilesWrite,
            images::upload_image,
        )
}

/// Products per page of the list.
const PAGE_SIZE: u64 = 25;
/// Where the images of product `<id>` are stored: `public/images/products/<id>/<name>.<ext>`.
const IMAGES_PREFIX: &str = "public/images/products";
/// Minor-unit digits of a currency that is not (or no longer) stored.
const DEFAULT_FRACTION_DIGITS: u8 = 2;

// ---- shared with the other catalog pages ----

/// A response carrying `detail` for the guard's audit entry of this request.
pub(super) fn with_audit(mut response: Response, detail: Value) -> Response {
    response.extensions_mut().insert(AuditDetail(detail));
    response
}

/// A failure the user cannot fix from the page (storage); its detail goes to the log only.
pub(super) fn storage_error(error: DomainError) -> Response {
    kontor_web::AppError::from(error).into_response()
}

/// The page of a product or category that does not exist.
pub(super) fn not_found(state: &AdminState, layout: &Layout, message: String) -> Response {
    render(
        state,
        StatusCode::NOT_FOUND,
        "backoffice/products_not_found.html",
        layout,
        json!({"message": message}),
    )
}

/// Ids in paths are positive integers; anything else names nothing.
pub(super) fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Every record of a resource (optionally those whose SKU starts with `sku`), read page by page.
/// Meant for the small lists a page shows whole: locales, stores, a product's prices.
pub(super) async fn all_of<R: Resource>(
    service: &ResourceService<R>,
    sku: Option<&str>,
) -> Result<Vec<Record<R>>, DomainError> {
    let mut records = Vec::new();
    loop {
        let query = ListQuery {
            page: PageRequest::new(records.len() as u64, PageRequest::MAX_LIMIT),
            sku: sku.map(str::to_owned),
            ..ListQuery::default()
        };
        let page = service.list(&query).await?;
        let fetched = page.items.len();
        records.extend(page.items);
        if fetched == 0 || records.len() as u64 >= page.total {
            return Ok(records);
        }
    }
}

/// The active locales' names, with any locale a record already has texts in.
pub(super) async fn locale_names(
    state: &AdminState,
    translated: impl IntoIterator<Item = LocaleName>,
) -> Result<BTreeSet<LocaleName>, DomainError> {
    let mut names: BTreeSet<LocaleName> = all_of(&state.locales, None)
        .await?
        .into_iter()
        .filter(|locale| locale.attributes.is_active)
        .map(|locale| locale.attributes.name)
        .collect();
    names.extend(translated);
    Ok(names)
}

/// A form of the page that was sent and failed: which one, for which row, what was typed and why it
/// was refused. The template shows the values and messages only in that form.
#[derive(Debug, Default, Serialize)]
pub(super) struct FailedForm {
    /// `texts`, `price`, `stock` or `image` (or `names` on a category).
    pub form: &'static str,
    /// The row's id, or `new` for the form that adds one.
    pub target: String,
    pub values: BTreeMap<String, String>,
    pub errors: FormErrors,
}

/// A domain error's messages under the form's own field names (`/grossAmount` → `amount`), anything
/// without a field of the form going to the form as a whole.
fn renamed_errors(error: &DomainError, names: &[(&str, &str)], form_fields: &[&str]) -> FormErrors {
    let mut errors = FormErrors::new();
    let field_errors: Vec<(String, String)> = match error {
        DomainError::Validation(fields) => fields
            .iter()
            .map(|field| (field_name(&field.pointer), field.detail.clone()))
            .collect(),
        DomainError::Conflict { pointer, detail } => vec![(field_name(pointer), detail.clone())],
        other => return FormErrors::from_domain(other),
    };
    for (field, detail) in field_errors {
        let renamed = names
            .iter()
            .find(|(domain, _)| *domain == field)
            .map_or(field.as_str(), |(_, form)| *form);
        let target = if form_fields.contains(&renamed) { renamed } else { FORM };
        errors.add(target, detail);
    }
    errors
}

/// 409 for a price or stock row that exists already, 422 for anything else the user can fix.
fn status_of(error: &DomainError) -> StatusCode {
    if matches!(error, DomainError::Conflict { .. }) {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

// ---- money as text ----

/// `12.34` → 1234 for a currency with two fraction digits. Only digits and one point: a comma is
/// refused rather than guessed (decimal or thousands separator?).
pub(super) fn parse_amount(text: &str, fraction_digits: u8) -> Result<i64, String> {
    let text = text.trim();
    let example = if fraction_digits == 0 {
        "Enter a whole amount such as 1234.".to_owned()
    } else {
        format!(
            "Enter an amount such as 12.{}, with a point before the decimals.",
            "34".chars()
                .cycle()
                .take(usize::from(fraction_digits))
                .collect::<String>()
        )
    };
    let (units, fraction) = match text.split_once('.') {
        Some((units, fraction)) => (units, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    if !all_digits(units) || fraction.is_some_and(|fraction| !all_digits(fraction)) {
        return Err(example);
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > usize::from(fraction_digits) {
        return Err(match fraction_digits {
            0 => "This currency has no decimals.".to_owned(),
            1 => "At most 1 digit after the point.".to_owned(),
            digits => format!("At most {digits} digits after the point."),
        });
    }
    let too_large = || "This amount is too large.".to_owned();
    let scale = 10_i64.checked_pow(u32::from(fraction_digits)).ok_or_else(too_large)?;
    let units: i64 = units.parse().map_err(|_| too_large())?;
    let padded = format!("{fraction:0<width$}", width = usize::from(fraction_digits));
    let fraction: i64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| too_large())?
    };
    units
        .checked_mul(scale)
        .and_then(|minor| minor.checked_add(fraction))
        .ok_or_else(too_large)
}

/// 1234 → `12.34` for two fraction digits: what the amount fields show.
pub(super) fn format_amount(minor: i64, fraction_digits: u8) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    let scale = 10_u64.pow(u32::from(fraction_digits.min(18)));
    if fraction_digits == 0 {
        return format!("{sign}{minor}");
    }
    format!(
        "{sign}{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = usize::from(fraction_digits)
    )
}

// ---- the list ----

#[derive(Debug, Serialize)]
struct ProductRow {
    id: i64,
    sku: String,
    name: String,
    stores: Vec<String>,
}

/// The name a list shows: the first locale's.
fn display_name(attributes: &ProductAbstractAttributes) -> String {
    attributes
        .localized_attributes
        .values()
        .next()
        .map(|localized| localized.name.clone())
        .unwrap_or_default()
}

async fn list(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Query(query): Query<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let sku = query.text("sku");
    let name = query.text("name");
    let requested = Pager::new(Pager::number_from(&query), PAGE_SIZE, 0);
    let list_query = ListQuery {
        page: PageRequest::new(requested.offset(), PAGE_SIZE),
        sku: Some(sku.clone()).filter(|sku| !sku.is_empty()),
        name: Some(name.clone()).filter(|name| !name.is_empty()),
        ..ListQuery::default()
    };
    let found = match state.abstract_products.list(&list_query).await {
        Ok(found) => found,
        Err(error) => return storage_error(error),
    };
    let rows: Vec<ProductRow> = found
        .items
        .iter()
        .map(|record| ProductRow {
            id: record.id.0,
            sku: record.attributes.sku.to_string(),
            name: display_name(&record.attributes),
            stores: record.attributes.stores.iter().map(ToString::to_string).collect(),
        })
        .collect();
    // The pager's links keep the search.
    let base = format!(
        "/backoffice/products?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("sku", &sku)
            .append_pair("name", &name)
            .finish()
    );
    let page = json!({
        "products": rows,
        "pager": Pager::new(requested.number, PAGE_SIZE, found.total),
        "base": base,
        "values": {"sku": sku, "name": name},
    });
    render(&state, StatusCode::OK, "backoffice/products.html", &layout, page)
}

// ---- the product page ----

#[derive(Debug, Serialize)]
struct TextsView {
    locale: String,
    name: String,
    description: String,
    /// Whether the product has texts in this locale yet.
    translated: bool,
}

#[derive(Debug, Serialize)]
struct VariantView {
    id: i64,
    sku: String,
    name: String,
    is_active: bool,
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct PriceView {
    id: i64,
    sku: String,
    /// `abstract` or `variant`.
    level: &'static str,
    store: String,
    currency: String,
    price_type: String,
    /// As decimal text (`12.34`), empty when the price has none.
    gross: String,
    net: String,
}

#[derive(Debug, Serialize)]
struct StockView {
    id: i64,
    sku: String,
    warehouse: String,
    quantity: i64,
    never_out_of_stock: bool,
}

#[derive(Debug, Serialize)]
struct ImageView {
    key: String,
    name: String,
    url: String,
    size: u64,
}

/// What the "add" forms offer.
#[derive(Debug, Serialize)]
struct Choices {
    /// The abstract SKU first, then the variants'.
    price_skus: Vec<String>,
    variant_skus: Vec<String>,
    stores: Vec<String>,
    currencies: Vec<String>,
    price_types: [&'static str; 2],
    warehouses: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ProductView {
    id: i64,
    sku: String,
    /// What `data-record` names for the "changed by someone else" notice.
    record: String,
    tax_set: Option<String>,
    stores: Vec<String>,
    attributes: BTreeMap<String, String>,
    texts: Vec<TextsView>,
    variants: Vec<VariantView>,
    prices: Vec<PriceView>,
    stock: Vec<StockView>,
    /// `None`: this backend stores no files, so there is no upload form.
    images: Option<Vec<ImageView>>,
    choices: Choices,
}

/// Everything the product page needs, read through the admin services.
struct Loaded {
    product: Record<ProductAbstractAttributes>,
    variants: Vec<Record<kontor_domain::catalog::ProductConcreteAttributes>>,
    prices: Vec<Record<PriceAttributes>>,
    stock: Vec<Record<StockAttributes>>,
    /// Minor-unit digits per currency code.
    fraction_digits: BTreeMap<String, u8>,
}

impl Loaded {
    fn digits_of(&self, currency: &str) -> u8 {
        self.fraction_digits
            .get(currency)
            .copied()
            .unwrap_or(DEFAULT_FRACTION_DIGITS)
    }

    fn variant_skus(&self) -> BTreeSet<&str> {
        self.variants
            .iter()
            .map(|variant| variant.attributes.sku.as_str())
            .collect()
    }
}

/// The product and what belongs to it. Variants, prices and stock are found by SKU prefix (the admin
/// lists filter by it) and then kept only when they really belong to the product, so a variant whose
/// SKU does not start with its abstract SKU is not shown.
async fn load(state: &AdminState, id: ProductAbstractId) -> Result<Loaded, DomainError> {
    let product = state.abstract_products.get(id).await?;
    let sku = product.attributes.sku.clone();
    let variants: Vec<_> = all_of(&state.concrete_products, Some(sku.as_str()))
        .await?
        .into_iter()
        .filter(|variant| variant.attributes.abstract_sku == sku)
        .collect();
    let variant_skus: BTreeSet<Sku> = variants.iter().map(|variant| variant.attributes.sku.clone()).collect();
    let prices: Vec<_> = all_of(&state.prices, Some(sku.as_str()))
        .await?
        .into_iter()
        .filter(|price| {
            price.attributes.abstract_sku.as_ref() == Some(&sku)
                || price
                    .attributes
                    .concrete_sku
                    .as_ref()
                    .is_some_and(|concrete| variant_skus.contains(concrete))
        })
        .collect();
    let stock: Vec<_> = all_of(&state.stocks, Some(sku.as_str()))
        .await?
        .into_iter()
        .filter(|row| variant_skus.contains(&row.attributes.sku))
        .collect();
    let fraction_digits = all_of(&state.currencies, None)
        .await?
        .into_iter()
        .map(|currency| {
            (
                currency.attributes.code.to_string(),
                currency.attributes.fraction_digits,
            )
        })
        .collect();
    Ok(Loaded {
        product,
        variants,
        prices,
        stock,
        fraction_digits,
    })
}

async fn images_of(state: &AdminState, id: i64) -> Option<Vec<ImageView>> {
    let files = state.files.as_deref()?;
    let prefix = format!("{IMAGES_PREFIX}/{id}/");
    match files.store.list(&prefix).await {
        Ok(listed) => Some(
            listed
                .into_iter()
                .map(|file| ImageView {
                    name: file.key.as_str().rsplit('/').next().unwrap_or_default().to_owned(),
                    url: kontor_files::url_path(&file.key),
                    key: file.key.as_str().to_owned(),
                    size: file.size,
                })
                .collect(),
        ),
        Err(error) => {
            // The page is still useful without its images; the failure is for the operators.
            tracing::warn!(%error, product = id, "the product's images could not be listed");
            Some(Vec::new())
        }
    }
}

async fn view_of(state: &AdminState, loaded: &Loaded) -> Result<ProductView, DomainError> {
    let product = &loaded.product;
    let attributes = &product.attributes;
    let locales = locale_names(state, attributes.localized_attributes.keys().cloned()).await?;
    let texts = locales
        .iter()
        .map(|locale| {
            let localized = attributes.localized_attributes.get(locale);
            TextsView {
                locale: locale.to_string(),
                name: localized.map(|texts| texts.name.clone()).unwrap_or_default(),
                description: localized.map(|texts| texts.description.clone()).unwrap_or_default(),
                translated: localized.is_some(),
            }
        })
        .collect();
    let variants = loaded
        .variants
        .iter()
        .map(|variant| VariantView {
            id: variant.id.0,
            sku: variant.attributes.sku.to_string(),
            name: variant
                .attributes
                .localized_attributes
                .values()
                .next()
                .map(|localized| localized.name.clone())
                .unwrap_or_default(),
            is_active: variant.attributes.is_active,
            attributes: variant.attributes.attributes.clone(),
        })
        .collect();
    let prices = loaded
        .prices
        .iter()
        .map(|price| {
            let digits = loaded.digits_of(price.attributes.currency.as_str());
            let text = |amount: Option<i64>| amount.map(|minor| format_amount(minor, digits)).unwrap_or_default();
            PriceView {
                id: price.id.0,
                sku: price.attributes.sku().map(ToString::to_string).unwrap_or_default(),
                level: if price.attributes.abstract_sku.is_some() {
                    "abstract"
                } else {
                    "variant"
                },
                store: price.attributes.store.to_string(),
                currency: price.attributes.currency.to_string(),
                price_type: price.attributes.price_type.clone(),
                gross: text(price.attributes.gross_amount),
                net: text(price.attributes.net_amount),
            }
        })
        .collect();
    let stock = loaded
        .stock
        .iter()
        .map(|row| StockView {
            id: row.id.0,
            sku: row.attributes.sku.to_string(),
            warehouse: row.attributes.warehouse.clone(),
            quantity: row.attributes.quantity,
            never_out_of_stock: row.attributes.is_never_out_of_stock,
        })
        .collect();
    let variant_skus: Vec<String> = loaded
        .variants
        .iter()
        .map(|variant| variant.attributes.sku.to_string())
        .collect();
    let choices = Choices {
        price_skus: std::iter::once(attributes.sku.to_string())
            .chain(variant_skus.iter().cloned())
            .collect(),
        variant_skus,
        stores: all_of(&state.stores, None)
            .await?
            .into_iter()
            .map(|store| store.attributes.name.to_string())
            .collect(),
        currencies: loaded.fraction_digits.keys().cloned().collect(),
        price_types: [PRICE_TYPE_DEFAULT, PRICE_TYPE_ORIGINAL],
        warehouses: all_of(&state.warehouses, None)
            .await?
            .into_iter()
            .map(|warehouse| warehouse.attributes.name)
            .collect(),
    };
    Ok(ProductView {
        id: product.id.0,
        sku: attributes.sku.to_string(),
        record: format!("{}:{}", ProductAbstractAttributes::TYPE, product.id.0),
        tax_set: attributes.tax_set.clone(),
        stores: attributes.stores.iter().map(ToString::to_string).collect(),
        attributes: attributes.attributes.clone(),
        texts,
        variants,
        prices,
        stock,
        images: images_of(state, product.id.0).await,
        choices,
    })
}

/// The product page, with a failed form's values and messages when there is one.
async fn product_page(
    state: &AdminState,
    layout: &Layout,
    status: StatusCode,
    loaded: &Loaded,
    failed: Option<FailedForm>,
) -> Response {
    let view = match view_of(state, loaded).await {
        Ok(view) => view,
        Err(error) => return storage_error(error),
    };
    let page = json!({"product": view, "form": failed.unwrap_or_default()});
    render(state, status, "backoffice/product.html", layout, page)
}

/// The product page again with a refused form; its messages also go to the guard's audit entry.
async fn refused_page(
    state: &AdminState,
    layout: &Layout,
    status: StatusCode,
    loaded: &Loaded,
    failed: FailedForm,
) -> Response {
    let invalid = json!({"invalid": failed.errors});
    with_audit(product_page(state, layout, status, loaded, Some(failed)).await, invalid)
}

/// Loads product `raw_id` for a page, answering the not-found page when there is none.
async fn load_or_404(state: &AdminState, layout: &Layout, raw_id: &str) -> Result<Loaded, Response> {
    let missing = || not_found(state, layout, format!("There is no product {raw_id}."));
    let Some(id) = parse_id(raw_id) else {
        return Err(missing());
    };
    match load(state, ProductAbstractId(id)).await {
        Ok(loaded) => Ok(loaded),
        Err(DomainError::NotFound { .. }) => Err(missing()),
        Err(error) => Err(storage_error(error)),
    }
}

fn product_url(id: ProductAbstractId, anchor: &str) -> String {
    format!("/backoffice/products/{id}#{anchor}")
}

async fn show(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    match load_or_404(&state, &layout, &raw_id).await {
        Ok(loaded) => product_page(&state, &layout, StatusCode::OK, &loaded, None).await,
        Err(response) => response,
    }
}

// ---- texts ----

/// Saves name and description of every locale the form carries. A locale the product has no texts
/// in yet gets them only when something was typed for it.
async fn save_texts(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
    Form(fields): Form<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let loaded = match load_or_404(&state, &layout, &raw_id).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let id = loaded.product.id;
    let mut attributes = loaded.product.attributes.clone();
    let locales = match locale_names(&state, attributes.localized_attributes.keys().cloned()).await {
        Ok(locales) => locales,
        Err(error) => return storage_error(error),
    };
    let mut changes = serde_json::Map::new();
    for locale in &locales {
        let name_field = format!("localizedAttributes.{locale}.name");
        let description_field = format!("localizedAttributes.{locale}.description");
        if !fields.0.contains_key(&name_field) {
            continue;
        }
        let name = fields.text(&name_field);
        let description = fields.text(&description_field);
        let before = attributes.localized_attributes.get(locale).cloned();
        match attributes.localized_attributes.get_mut(locale) {
            Some(texts) => {
                texts.name = name;
                texts.description = description;
            }
            None if name.is_empty() && description.is_empty() => continue,
            None => {
                attributes.localized_attributes.insert(
                    locale.clone(),
                    AbstractLocalized {
                        name,
                        description,
                        meta_title: String::new(),
                        meta_keywords: String::new(),
                        meta_description: String::new(),
                        attributes: BTreeMap::new(),
                        url: None,
                    },
                );
            }
        }
        let after = attributes.localized_attributes.get(locale);
        let old_name = before.as_ref().map(|texts| texts.name.as_str());
        let old_description = before.as_ref().map(|texts| texts.description.as_str());
        if old_name != after.map(|texts| texts.name.as_str()) {
            changes.insert(
                format!("{locale}.name"),
                json!({"from": old_name, "to": after.map(|texts| &texts.name)}),
            );
        }
        if old_description != after.map(|texts| texts.description.as_str()) {
            changes.insert(
                format!("{locale}.description"),
                json!({"from": old_description, "to": after.map(|texts| &texts.description)}),
            );
        }
    }
    if changes.is_empty() {
        flash(&session, "info", "Nothing changed.");
        return Redirect::to(&product_url(id, "texts")).into_response();
    }
    match state.abstract_products.update(id, attributes).await {
        Ok(_) => {
            announce_change(&state, &principal, &format!("{}:{id}", ProductAbstractAttributes::TYPE)).await;
            flash(&session, "success", "The texts are saved.");
            let response = Redirect::to(&product_url(id, "texts")).into_response();
            with_audit(response, json!({"texts": changes}))
        }
        Err(error @ (DomainError::Validation(_) | DomainError::Conflict { .. })) => {
            let failed = FailedForm {
                form: "texts",
                target: id.to_string(),
                values: fields.echo(),
                errors: FormErrors::from_domain(&error),
            };
            refused_page(&state, &layout, StatusCode::UNPROCESSABLE_ENTITY, &loaded, failed).await
        }
        Err(error) => storage_error(error),
    }
}

// ---- prices ----

/// The price form's fields; `amount` is the gross amount, `net_amount` the net one.
const PRICE_FIELDS: [&str; 6] = ["amount", "net_amount", "sku", "store", "currency", "price_type"];
/// Domain field names of a price and the form's.
const PRICE_NAMES: [(&str, &str); 7] = [
    ("grossAmount", "amount"),
    ("netAmount", "net_amount"),
    ("abstractSku", "sku"),
    ("concreteSku", "sku"),
    ("store", "store"),
    ("currency", "currency"),
    ("priceType", "price_type"),
];

/// An amount field: empty is no amount; anything else must read as one.
fn amount_field(fields: &FormFields, name: &str, digits: u8, errors: &mut FormErrors) -> Option<i64> {
    let text = fields.text(name);
    if text.is_empty() {
        return None;
    }
    match parse_amount(&text, digits) {
        Ok(minor) => Some(minor),
        Err(message) => {
            errors.add(name, message);
            None
        }
    }
}

/// The price the form describes: the stored one with new amounts, or a new one from its choices.
fn price_of_form(
    loaded: &Loaded,
    fields: &FormFields,
    stored: Option<&Record<PriceAttributes>>,
    errors: &mut FormErrors,
) -> Option<PriceAttributes> {
    let price = match stored {
        Some(stored) => Some(stored.attributes.clone()),
        None => {
            let sku_text = fields.text("sku");
            let product_sku = &loaded.product.attributes.sku;
            let (abstract_sku, concrete_sku) = if sku_text == product_sku.as_str() {
                (Some(product_sku.clone()), None)
            } else if loaded.variant_skus().contains(sku_text.as_str()) {
                (None, Sku::parse(&sku_text).ok())
            } else {
                errors.add("sku", "Choose the product or one of its variants.");
                (None, None)
            };
            let store = StoreName::parse(&fields.text("store"));
            if store.is_err() {
                errors.add("store", "Choose a store.");
            }
            let currency = CurrencyCode::parse(&fields.text("currency"));
            if currency.is_err() {
                errors.add("currency", "Choose a currency.");
            }
            let price_type = fields.text("price_type");
            if ![PRICE_TYPE_DEFAULT, PRICE_TYPE_ORIGINAL].contains(&price_type.as_str()) {
                errors.add("price_type", "Choose DEFAULT or ORIGINAL.");
            }
            match (store, currency) {
                (Ok(store), Ok(currency)) => Some(PriceAttributes {
                    abstract_sku,
                    concrete_sku,
                    price_type,
                    store,
                    currency,
                    net_amount: None,
                    gross_amount: None,
                    volume_prices: Vec::new(),
                }),
                _ => None,
            }
        }
    };
    // The amounts are read even when a choice was wrong, so one submission shows every mistake.
    let digits = price.as_ref().map_or(DEFAULT_FRACTION_DIGITS, |price| {
        loaded.digits_of(price.currency.as_str())
    });
    let gross_amount = amount_field(fields, "amount", digits, errors);
    let net_amount = amount_field(fields, "net_amount", digits, errors);
    if gross_amount.is_none()
        && net_amount.is_none()
        && errors.get("amount").is_none()
        && errors.get("net_amount").is_none()
    {
        errors.add("amount", "Enter a gross or a net amount.");
    }
    let mut price = price?;
    price.gross_amount = gross_amount;
    price.net_amount = net_amount;
    errors.is_empty().then_some(price)
}

async fn save_price(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
    Form(fields): Form<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let loaded = match load_or_404(&state, &layout, &raw_id).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let id = loaded.product.id;
    let target = fields.text("price");
    let stored = if target == "new" {
        None
    } else {
        let found = parse_id(&target).and_then(|price_id| loaded.prices.iter().find(|price| price.id.0 == price_id));
        match found {
            Some(price) => Some(price),
            None => return not_found(&state, &layout, format!("Product {id} has no price {target}.")),
        }
    };
    let failed = |errors: FormErrors| FailedForm {
        form: "price",
        target: target.clone(),
        values: fields.echo(),
        errors,
    };
    let mut errors = FormErrors::new();
    let Some(price) = price_of_form(&loaded, &fields, stored, &mut errors) else {
        return refused_page(
            &state,
            &layout,
            StatusCode::UNPROCESSABLE_ENTITY,
            &loaded,
            failed(errors),
        )
        .await;
    };
    let result = match stored {
        Some(stored) => state.prices.update(stored.id, price).await,
        None => state.prices.create(price).await,
    };
    match result {
        Ok(saved) => {
            let before = stored.map(|stored| &stored.attributes);
            let after = &saved.attributes;
            let mut detail = json!({
                "id": saved.id.0,
                "sku": after.sku().map(ToString::to_string),
                "store": after.store.to_string(),
                "currency": after.currency.to_string(),
                "priceType": after.price_type,
                "from": before.and_then(|price| price.gross_amount),
                "to": after.gross_amount,
            });
            if before.and_then(|price| price.net_amount) != after.net_amount {
                detail["net"] = json!({"from": before.and_then(|price| price.net_amount), "to": after.net_amount});
            }
            announce_change(&state, &principal, &format!("{}:{id}", ProductAbstractAttributes::TYPE)).await;
            flash(&session, "success", "The price is saved.");
            with_audit(
                Redirect::to(&product_url(id, "prices")).into_response(),
                json!({"price": detail}),
            )
        }
        Err(error @ (DomainError::Validation(_) | DomainError::Conflict { .. })) => {
            let errors = renamed_errors(&error, &PRICE_NAMES, &PRICE_FIELDS);
            refused_page(&state, &layout, status_of(&error), &loaded, failed(errors)).await
        }
        Err(error) => storage_error(error),
    }
}

// ---- stock ----

const STOCK_FIELDS: [&str; 4] = ["quantity", "never_out_of_stock", "sku", "warehouse"];
const STOCK_NAMES: [(&str, &str); 4] = [
    ("quantity", "quantity"),
    ("isNeverOutOfStock", "never_out_of_stock"),
    ("sku", "sku"),
    ("warehouse", "warehouse"),
];

/// The stock row the form describes: the stored one with its new quantity, or a new one.
fn stock_of_form(
    loaded: &Loaded,
    fields: &FormFields,
    stored: Option<&Record<StockAttributes>>,
    errors: &mut FormErrors,
) -> Option<StockAttributes> {
    let quantity = match fields.text("quantity").parse::<i64>() {
        Ok(quantity) if quantity >= 0 => quantity,
        _ => {
            errors.add("quantity", "Enter a whole number of units, 0 or more.");
            0
        }
    };
    let never_out_of_stock = matches!(fields.text("never_out_of_stock").as_str(), "on" | "true" | "1");
    let mut row = match stored {
        Some(stored) => stored.attributes.clone(),
        None => {
            let sku_text = fields.text("sku");
            let sku = Sku::parse(&sku_text)
                .ok()
                .filter(|_| loaded.variant_skus().contains(sku_text.as_str()));
            if sku.is_none() {
                errors.add("sku", "Choose one of the product's variants.");
            }
            let warehouse = fields.text("warehouse");
            if warehouse.is_empty() {
                errors.add("warehouse", "Choose a warehouse.");
            }
            StockAttributes {
                sku: sku?,
                warehouse,
                quantity: 0,
                is_never_out_of_stock: false,
            }
        }
    };
    row.quantity = quantity;
    row.is_never_out_of_stock = never_out_of_stock;
    errors.is_empty().then_some(row)
}

async fn save_stock(
    State(state): State<AdminState>,
    Extension(principal): Extension<Principal>,
    session: Session,
    csrf: CsrfToken,
    uri: Uri,
    Path(raw_id): Path<String>,
    Form(fields): Form<FormFields>,
) -> Response {
    let layout = Layout::new(&principal, &session, &csrf, uri.path());
    let loaded = match load_or_404(&state, &layout, &raw_id).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let id = loaded.product.id;
    let target = fields.text("stock");
    let stored = if target == "new" {
        None
    } else {
        let found = parse_id(&target).and_then(|stock_id| loaded.stock.iter().find(|row| row.id.0 == stock_id));
        match found {
            Some(row) => Some(row),
            None => return not_found(&state, &layout, format!("Product {id} has no stock row {target}.")),
        }
    };
    let failed = |errors: FormErrors| FailedForm {
        form: "stock",
        target: target.clone(),
        values: fields.echo(),
        errors,
    };
    let mut errors = FormErrors::new();
    let Some(row) = stock_of_form(&loaded, &fields, stored, &mut errors) else {
        return refused_page(
            &state,
            &layout,
            StatusCode::UNPROCESSABLE_ENTITY,
            &loaded,
            failed(errors),
        )
        .await;
    };
    let result = match stored {
        Some(stored) => state.stocks.update(stored.id, row).await,
        None => state.stocks.create(row).await,
    };
    match result {
        Ok(saved) => {
            let before = stored.map(|stored| &stored.attributes);
            let after = &saved.attributes;
            let detail = json!({"stock": {
                "id": saved.id.0,
                "sku": after.sku.to_string(),
                "warehouse": after.warehouse,
                "quantity": {"from": before.map(|row| row.quantity), "to": after.quantity},
                "neverOutOfStock": {"from": before.map(|row| row.is_never_out_of_stock), "to": after.is_never_out_of_stock},
            }});
            announce_change(&state, &principal, &format!("{}:{id}", ProductAbstractAttributes::TYPE)).await;
            flash(&session, "success", "The stock is saved.");
            with_audit(Redirect::to(&product_url(id, "stock")).into_response(), detail)
        }
        Err(error @ (DomainError::Validation(_) | DomainError::Conflict { .. })) => {
            let errors = renamed_errors(&error, &STOCK_NAMES, &STOCK_FIELDS);
            refused_page(&state, &layout, status_of(&error), &loaded, failed(errors)).await
        }
        Err(error) => storage_error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_decimal_text() {
        assert_eq!(parse_amount("12.34", 2), Ok(1234));
        assert_eq!(parse_amount(" 12 ", 2), Ok(1200));
        assert_eq!(parse_amount("12.3", 2), Ok(1230));
        assert_eq!(parse_amount("0.05", 2), Ok(5));
        assert_eq!(parse_amount("1234", 0), Ok(1234));
        assert_eq!(parse_amount("1.2345", 4), Ok(12_345));
        for bad in ["12,3x", "12,34", "", ".5", "5.", "-1", "1e3", "12.34.5", "１２"] {
            assert!(parse_amount(bad, 2).is_err(), "{bad} must be refused");
        }
        assert_eq!(
            parse_amount("1.234", 2),
            Err("At most 2 digits after the point.".to_owned())
        );
        assert_eq!(
            parse_amount("99999999999999999999", 2),
            Err("This amount is too large.".to_owned())
        );
        assert_eq!(format_amount(1234, 2), "12.34");
        assert_eq!(format_amount(5, 2), "0.05");
        assert_eq!(format_amount(-120, 2), "-1.20");
        assert_eq!(format_amount(1234, 0), "1234");
    }

    #[test]
    fn domain_messages_land_on_the_form_fields() {
        let error = DomainError::Validation(vec![
            kontor_domain::FieldError::new("/grossAmount", "must not be negative"),
            kontor_domain::FieldError::new("/taxSet", "is unknown"),
        ]);
        let errors = renamed_errors(&error, &PRICE_NAMES, &PRICE_FIELDS);
        assert_eq!(errors.get("amount"), Some("must not be negative"));
        assert_eq!(errors.get(FORM), Some("is unknown"));
    }
}
