//! The Back Office's catalog pages through a browser-like client, on every SQL backend: products
//! searched and shown, texts, prices and stock saved through the domain services (outbox rows, audit
//! entries with old and new values), form errors next to their fields, read-only users, image uploads
//! and the category tree.

use crate::ui_support::{Browser, Page, UiApp};
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kontor_backoffice::files::FilesAdmin;
use kontor_core::ids::{CategoryId, PriceProductId, ProductAbstractId, StockId};
use kontor_db::{OutboxReader, SqlDatabase};
use kontor_domain::acl::{AuditFilter, AuditOutcome};
use kontor_domain::{Record, Resource, ResourceService};
use kontor_files::UrlSigner;
use kontor_testkit::repo_test_suite;
use serde_json::{Value, json};
use tower::ServiceExt;

fn assert_status(page: &Page, status: StatusCode, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.body);
}

async fn create<R: Resource>(service: &ResourceService<R>, attributes: Value) -> Record<R> {
    let parsed: R = serde_json::from_value(attributes).expect("fixture attributes parse");
    service.create(parsed).await.expect("fixture is stored")
}

/// What the tests look at, by id.
pub(crate) struct Catalog {
    camera: ProductAbstractId,
    tent: ProductAbstractId,
    camera_price: PriceProductId,
    black_stock: StockId,
    cameras: CategoryId,
    compact: CategoryId,
}

/// Store DE (de_DE, en_US; EUR), a camera with two variants, a price and stock, a tent, and a
/// category with a child — written through the same services the pages use.
pub(crate) async fn camera_shop(app: &UiApp) -> Catalog {
    let services = &app.state;
    create(&services.locales, json!({"name": "de_DE"})).await;
    create(&services.locales, json!({"name": "en_US"})).await;
    create(&services.currencies, json!({"code": "EUR", "name": "Euro"})).await;
    create(
        &services.stores,
        json!({"name": "DE", "defaultLocale": "de_DE", "defaultCurrency": "EUR", "locales": ["de_DE", "en_US"]}),
    )
    .await;
    create(&services.attribute_keys, json!({"key": "color", "isSuper": true})).await;
    let cameras = create(
        &services.categories,
        json!({"categoryKey": "cameras", "stores": ["DE"], "localizedAttributes": {"de_DE": {"name": "Kameras"}, "en_US": {"name": "Cameras"}}}),
    )
    .await;
    let compact = create(
        &services.categories,
        json!({"categoryKey": "compact", "parentCategoryKey": "cameras", "localizedAttributes": {"de_DE": {"name": "Kompaktkameras"}}}),
    )
    .await;
    let camera = create(
        &services.abstract_products,
        json!({"sku": "100", "stores": ["DE"],
               "localizedAttributes": {"de_DE": {"name": "Kamera Fjell", "description": "Robuste Kamera"},
                                       "en_US": {"name": "Fjell Camera", "description": "A rugged camera"}}}),
    )
    .await;
    for (sku, color) in [("100_black", "black"), ("100_red", "red")] {
        create(
            &services.concrete_products,
            json!({"sku": sku, "abstractSku": "100", "attributes": {"color": color},
                   "localizedAttributes": {"en_US": {"name": format!("Fjell Camera {color}")}}}),
        )
        .await;
    }
    let tent = create(
        &services.abstract_products,
        json!({"sku": "200", "stores": ["DE"], "localizedAttributes": {"de_DE": {"name": "Zelt"}}}),
    )
    .await;
    let camera_price = create(
        &services.prices,
        json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": 12900, "netAmount": 10840}),
    )
    .await;
    create(&services.warehouses, json!({"name": "Main", "stores": ["DE"]})).await;
    let black_stock = create(
        &services.stocks,
        json!({"sku": "100_black", "warehouse": "Main", "quantity": 4}),
    )
    .await;
    Catalog {
        camera: camera.id,
        tent: tent.id,
        camera_price: camera_price.id,
        black_stock: black_stock.id,
        cameras: cameras.id,
        compact: compact.id,
    }
}

/// The message of the element `id` (`<p class="error" id="…">message</p>`).
fn message_of(page: &Page, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\">");
    let start = page.body.find(&marker)? + marker.len();
    let end = page.body[start..].find('<')? + start;
    Some(page.body[start..end].to_owned())
}

/// The `value` of the element `id`.
fn value_of(page: &Page, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let start = page.body.find(&marker)?;
    let tag = &page.body[start..start + page.body[start..].find('>')?];
    let value_start = tag.find("value=\"")? + "value=\"".len();
    Some(tag[value_start..value_start + tag[value_start..].find('"')?].to_owned())
}

async fn last_audit(app: &UiApp, outcome: AuditOutcome) -> kontor_domain::acl::AuditEntry {
    let filter = AuditFilter {
        outcome: Some(outcome),
        resource_type: Some("products".into()),
        ..AuditFilter::default()
    };
    app.audit(&filter).await.into_iter().next().expect("an audit entry")
}

async fn products_are_searched_and_shown(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let catalog = camera_shop(&app).await;
    let browser = app.signed_in("catalog@example.com", &["catalog_manager"]).await;

    let list = browser.get("/backoffice/products").await;
    assert_status(&list, StatusCode::OK, "the product list");
    assert!(list.shows("Kamera Fjell") && list.shows("Zelt"), "{}", list.body);
    let by_name = browser.get("/backoffice/products?name=FJELL").await;
    assert!(
        by_name.shows("Kamera Fjell") && !by_name.shows("Zelt"),
        "{}",
        by_name.body
    );
    let by_sku = browser.get("/backoffice/products?sku=2").await;
    assert!(by_sku.shows("Zelt") && !by_sku.shows("Kamera Fjell"), "{}", by_sku.body);
    assert!(by_sku.shows("1 products."), "{}", by_sku.body);

    let page = browser.get(&format!("/backoffice/products/{}", catalog.camera)).await;
    assert_status(&page, StatusCode::OK, "the product page");
    assert!(
        page.body
            .contains(&format!("data-record=\"abstract-products:{}\"", catalog.camera)),
        "the page watches its record: {}",
        page.body
    );
    for text in [
        "Kamera Fjell",
        "A rugged camera",
        "100_black",
        "100_red",
        "color: red",
        "Main",
    ] {
        assert!(page.shows(text), "{text}: {}", page.body);
    }
    let amount = format!("price-amount-{}", catalog.camera_price);
    assert_eq!(value_of(&page, &amount).as_deref(), Some("129.00"));
    assert_eq!(
        value_of(&page, &format!("price-net-{}", catalog.camera_price)).as_deref(),
        Some("108.40")
    );
    assert_eq!(
        value_of(&page, &format!("stock-quantity-{}", catalog.black_stock)).as_deref(),
        Some("4")
    );
    assert!(page.body.contains("name=\"amount\"") && page.body.contains(">Save price</button>"));
    assert!(
        !page.body.contains("id=\"image-file\""),
        "no upload form without a file store"
    );

    let missing = browser.get("/backoffice/products/999999").await;
    assert_status(&missing, StatusCode::NOT_FOUND, "an unknown product");
    assert_status(
        &browser.get("/backoffice/products/abc").await,
        StatusCode::NOT_FOUND,
        "not an id",
    );
    let tent = browser.get(&format!("/backoffice/products/{}", catalog.tent)).await;
    assert!(tent.shows("No prices yet."), "{}", tent.body);
}

async fn texts_prices_and_stock_are_saved(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let catalog = camera_shop(&app).await;
    let browser = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    let path = format!("/backoffice/products/{}", catalog.camera);
    browser.get(&path).await;

    // Texts: the German name changes; publish & sync will find the outbox row.
    let outbox_before = app.db.outbox_after(0, 1_000_000).await.expect("outbox").len();
    let saved = browser
        .post(
            &path,
            &[
                ("localizedAttributes.de_DE.name", "Kamera Fjell Pro"),
                ("localizedAttributes.de_DE.description", "Robuste Kamera"),
                ("localizedAttributes.en_US.name", "Fjell Camera"),
                ("localizedAttributes.en_US.description", "A rugged camera"),
            ],
        )
        .await;
    assert_status(&saved, StatusCode::SEE_OTHER, "saving the texts");
    assert_eq!(saved.location.as_deref(), Some(format!("{path}#texts").as_str()));
    let outbox = app.db.outbox_after(0, 1_000_000).await.expect("outbox");
    assert!(
        outbox[outbox_before..]
            .iter()
            .any(|row| row.resource == "product_abstract" && row.entity_id == catalog.camera.0),
        "{outbox:?}"
    );
    let stored = app.state.abstract_products.get(catalog.camera).await.expect("stored");
    let names: Vec<&str> = stored
        .attributes
        .localized_attributes
        .values()
        .map(|texts| texts.name.as_str())
        .collect();
    assert_eq!(names, ["Kamera Fjell Pro", "Fjell Camera"]);
    let entry = last_audit(&app, AuditOutcome::Allowed).await;
    assert_eq!(
        entry.detail["texts"]["de_DE.name"],
        json!({"from": "Kamera Fjell", "to": "Kamera Fjell Pro"})
    );
    let shown = browser.get(&path).await;
    assert!(shown.shows("The texts are saved."), "flash: {}", shown.body);

    let emptied = browser.post(&path, &[("localizedAttributes.de_DE.name", "  ")]).await;
    assert_status(&emptied, StatusCode::UNPROCESSABLE_ENTITY, "an empty name");
    assert_eq!(
        message_of(&emptied, "name-de_DE-error").as_deref(),
        Some("must not be empty")
    );

    // Prices: decimal text in, minor units stored, old and new value audited.
    let price_path = format!("{path}/prices");
    let price_id = catalog.camera_price.to_string();
    let saved = browser
        .post(
            &price_path,
            &[("price", &price_id), ("amount", "12.34"), ("net_amount", "10.37")],
        )
        .await;
    assert_status(&saved, StatusCode::SEE_OTHER, "changing the price");
    let price = app.state.prices.get(catalog.camera_price).await.expect("stored");
    assert_eq!(
        (price.attributes.gross_amount, price.attributes.net_amount),
        (Some(1234), Some(1037))
    );
    let entry = last_audit(&app, AuditOutcome::Allowed).await;
    assert_eq!(entry.action, "catalog.write");
    assert_eq!(entry.resource_id.as_deref(), Some(catalog.camera.to_string().as_str()));
    assert_eq!(
        (
            entry.detail["price"]["from"].clone(),
            entry.detail["price"]["to"].clone()
        ),
        (json!(12900), json!(1234))
    );
    assert_eq!(entry.detail["price"]["net"], json!({"from": 10840, "to": 1037}));

    let refused = browser
        .post(&price_path, &[("price", &price_id), ("amount", "12,3x")])
        .await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY, "a bad amount");
    let amount_id = format!("price-amount-{price_id}");
    let message = message_of(&refused, &format!("{amount_id}-error")).expect("a message next to the amount");
    assert!(message.contains("12.34"), "{message}");
    assert_eq!(
        value_of(&refused, &amount_id).as_deref(),
        Some("12,3x"),
        "the typed value is kept"
    );
    assert!(
        refused
            .body
            .contains(&format!("aria-describedby=\"{amount_id}-error\"")),
        "the field names its message"
    );
    let unchanged = app.state.prices.get(catalog.camera_price).await.expect("stored");
    assert_eq!(unchanged.attributes.gross_amount, Some(1234));
    assert_eq!(
        last_audit(&app, AuditOutcome::Failed).await.detail["invalid"]["amount"],
        json!(message)
    );

    let added = browser
        .post(
            &price_path,
            &[
                ("price", "new"),
                ("sku", "100_red"),
                ("store", "DE"),
                ("currency", "EUR"),
                ("price_type", "ORIGINAL"),
                ("amount", "99.5"),
            ],
        )
        .await;
    assert_status(&added, StatusCode::SEE_OTHER, "adding a variant's price");
    let page = browser.get(&path).await;
    assert!(page.body.contains("value=\"99.50\""), "{}", page.body);
    let duplicate = browser
        .post(
            &price_path,
            &[
                ("price", "new"),
                ("sku", "100_red"),
                ("store", "DE"),
                ("currency", "EUR"),
                ("price_type", "ORIGINAL"),
                ("amount", "1"),
            ],
        )
        .await;
    assert!(
        matches!(
            duplicate.status,
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
        ),
        "the same price twice: {}",
        duplicate.body
    );
    let foreign = browser.post(&price_path, &[("price", "999999"), ("amount", "1")]).await;
    assert_status(&foreign, StatusCode::NOT_FOUND, "a price of another product");

    // Stock.
    let stock_path = format!("{path}/stock");
    let stock_id = catalog.black_stock.to_string();
    let saved = browser
        .post(
            &stock_path,
            &[("stock", &stock_id), ("quantity", "7"), ("never_out_of_stock", "true")],
        )
        .await;
    assert_status(&saved, StatusCode::SEE_OTHER, "changing the stock");
    let stock = app.state.stocks.get(catalog.black_stock).await.expect("stored");
    assert_eq!(
        (stock.attributes.quantity, stock.attributes.is_never_out_of_stock),
        (7, true)
    );
    assert_eq!(
        last_audit(&app, AuditOutcome::Allowed).await.detail["stock"]["quantity"],
        json!({"from": 4, "to": 7})
    );
    let refused = browser
        .post(&stock_path, &[("stock", &stock_id), ("quantity", "-1")])
        .await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY, "a negative quantity");
    assert!(
        message_of(&refused, &format!("stock-quantity-{stock_id}-error")).is_some(),
        "{}",
        refused.body
    );
    let added = browser
        .post(
            &stock_path,
            &[
                ("stock", "new"),
                ("sku", "100_red"),
                ("warehouse", "Main"),
                ("quantity", "3"),
            ],
        )
        .await;
    assert_status(&added, StatusCode::SEE_OTHER, "adding stock");
}

async fn read_only_users_see_no_edit_buttons(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let catalog = camera_shop(&app).await;
    let browser = app.signed_in("viewer@example.com", &["read_only"]).await;
    let path = format!("/backoffice/products/{}", catalog.camera);

    let page = browser.get(&path).await;
    assert_status(&page, StatusCode::OK, "reading is allowed");
    for button in ["Save price", "Save texts", "Add price", "Save stock", "Add stock"] {
        assert!(
            !page.body.contains(&format!(">{button}</button>")),
            "{button}: {}",
            page.body
        );
    }
    assert!(page.body.contains(" disabled>"), "the forms are disabled");

    let price_id = catalog.camera_price.to_string();
    let refused = browser
        .post(&format!("{path}/prices"), &[("price", &price_id), ("amount", "1.00")])
        .await;
    assert_status(&refused, StatusCode::FORBIDDEN, "changing a price");
    let price = app.state.prices.get(catalog.camera_price).await.expect("stored");
    assert_eq!(price.attributes.gross_amount, Some(12900), "nothing changed");
    let denied = last_audit(&app, AuditOutcome::Denied).await;
    assert_eq!(
        (
            denied.action.as_str(),
            denied.user_email.as_deref(),
            denied.resource_id.clone()
        ),
        (
            "catalog.write",
            Some("viewer@example.com"),
            Some(catalog.camera.to_string())
        )
    );

    let category = browser
        .get(&format!("/backoffice/categories/{}", catalog.cameras))
        .await;
    assert_status(&category, StatusCode::OK, "reading a category");
    assert!(!category.body.contains(">Save names</button>"), "{}", category.body);
    let order_manager = app.signed_in("orders@example.com", &["order_manager"]).await;
    assert_status(
        &order_manager.get(&path).await,
        StatusCode::FORBIDDEN,
        "no catalog.read",
    );
}

/// Sends a multipart upload of `content` as `image` from `browser`, with the CSRF token in the URL.
async fn upload(app: &UiApp, browser: &Browser, path: &str, file_name: &str, content: &[u8]) -> Page {
    let token = browser.csrf_token().expect("a page with a form was seen");
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--b0undary\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let request = Request::post(format!("{path}?_csrf={token}"))
        .header(CONTENT_TYPE, "multipart/form-data; boundary=b0undary")
        .header(COOKIE, browser.cookie_header())
        .body(Body::from(body))
        .expect("request");
    let response = app.router().oneshot(request).await.expect("infallible");
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    Page {
        status,
        location,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn images_are_uploaded_to_the_file_store(db: SqlDatabase) {
    let directory = tempfile::tempdir().expect("temp dir");
    let store = kontor_files::open("", directory.path()).await.expect("file store");
    let signer = UrlSigner::new(b"backoffice-test-signing-secret-0123456789").expect("signer");
    let app = UiApp::with_state(db, |state| state.with_files(FilesAdmin::new(store.clone(), signer))).await;
    let catalog = camera_shop(&app).await;
    let browser = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    let path = format!("/backoffice/products/{}", catalog.camera);
    let page = browser.get(&path).await;
    assert!(page.body.contains("id=\"image-file\""), "{}", page.body);

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake png";
    let uploaded = upload(&app, &browser, &format!("{path}/images"), "Front View.png", png).await;
    assert_status(&uploaded, StatusCode::SEE_OTHER, "uploading a PNG");
    let key = format!("public/images/products/{}/front-view.png", catalog.camera);
    let stored = store
        .get(&kontor_files::FileKey::parse(&key).expect("key"))
        .await
        .expect("stored");
    assert_eq!(
        (stored.meta.content_type.as_str(), stored.bytes.as_ref()),
        ("image/png", &png[..])
    );
    let entry = last_audit(&app, AuditOutcome::Allowed).await;
    assert_eq!(entry.action, "files.write");
    assert_eq!(entry.detail["image"]["key"], json!(key));
    let page = browser.get(&path).await;
    assert!(page.shows("front-view.png"), "{}", page.body);

    let refused = upload(
        &app,
        &browser,
        &format!("{path}/images"),
        "evil.svg",
        b"<svg onload=alert(1)>",
    )
    .await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY, "an SVG");
    assert!(message_of(&refused, "image-file-error").is_some_and(|message| message.contains("not a JPEG")));

    let without_token = Request::post(format!("{path}/images"))
        .header(CONTENT_TYPE, "multipart/form-data; boundary=b0undary")
        .header(COOKIE, browser.cookie_header())
        .body(Body::from("--b0undary--\r\n"))
        .expect("request");
    let response = app.router().oneshot(without_token).await.expect("infallible");
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "an upload needs the CSRF token"
    );
}

async fn categories_are_shown_as_a_tree_and_renamed(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    let catalog = camera_shop(&app).await;
    let browser = app.signed_in("catalog@example.com", &["catalog_manager"]).await;

    let tree = browser.get("/backoffice/categories").await;
    assert_status(&tree, StatusCode::OK, "the tree");
    let parent = tree.body.find("Kameras").expect("the root");
    let child = tree.body.find("Kompaktkameras").expect("the child");
    let nested = &tree.body[parent..child];
    assert!(
        nested.contains("<ul>"),
        "the child is nested under its parent: {}",
        tree.body
    );

    let path = format!("/backoffice/categories/{}", catalog.compact);
    let page = browser.get(&path).await;
    assert_status(&page, StatusCode::OK, "a category");
    assert!(page.shows("not translated yet"), "en_US has no name yet: {}", page.body);
    let saved = browser
        .post(
            &path,
            &[
                ("localizedAttributes.de_DE.name", "Kompakte"),
                ("localizedAttributes.en_US.name", "Compact cameras"),
            ],
        )
        .await;
    assert_status(&saved, StatusCode::SEE_OTHER, "renaming");
    let stored = app.state.categories.get(catalog.compact).await.expect("stored");
    let names: Vec<&str> = stored
        .attributes
        .localized_attributes
        .values()
        .map(|texts| texts.name.as_str())
        .collect();
    assert_eq!(names, ["Kompakte", "Compact cameras"]);
    let refused = browser.post(&path, &[("localizedAttributes.de_DE.name", "")]).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY, "an empty name");
    assert_eq!(
        message_of(&refused, "name-de_DE-error").as_deref(),
        Some("must not be empty")
    );
}

async fn reviews_are_moderated_newest_first(db: SqlDatabase) {
    let app = UiApp::new(db).await;
    camera_shop(&app).await;
    let mut ids = Vec::new();
    for (sku, summary, status) in [
        ("100", "Sharp pictures", "pending"),
        ("200", "Leaky tent", "pending"),
        ("100", "Battery lasts", "approved"),
    ] {
        let review = create(
            &app.state.product_reviews,
            json!({"abstractSku": sku, "locale": "en_US", "customerReference": "DE--1", "nickname": "Maria",
                   "summary": summary, "rating": 4, "status": status}),
        )
        .await;
        ids.push(review.id);
    }
    let browser = app.signed_in("catalog@example.com", &["catalog_manager"]).await;
    let pending = browser.get("/backoffice/reviews").await;
    assert_status(&pending, StatusCode::OK, "pending reviews");
    let (newest, older) = (
        pending.body.find("Leaky tent").expect("listed"),
        pending.body.find("Sharp pictures").expect("listed"),
    );
    assert!(newest < older, "newest first: {}", pending.body);
    assert!(!pending.shows("Battery lasts"), "approved ones are on their own list");
    assert!(pending.shows("★★★★☆"), "{}", pending.body);
    let past_the_end = browser.get("/backoffice/reviews?status=pending&page=3").await;
    assert!(
        !past_the_end.shows("Sharp pictures") && past_the_end.shows("No pending reviews."),
        "{}",
        past_the_end.body
    );
    let of_tent = browser.get("/backoffice/reviews?status=pending&sku=2").await;
    assert!(
        of_tent.shows("Leaky tent") && !of_tent.shows("Sharp pictures"),
        "{}",
        of_tent.body
    );

    let approved = browser
        .post(
            &format!("/backoffice/reviews/{}", ids[0]),
            &[("action", "approve"), ("back_status", "pending")],
        )
        .await;
    assert_status(&approved, StatusCode::SEE_OTHER, "approving");
    let stored = app.state.product_reviews.get(ids[0]).await.expect("stored");
    assert_eq!(stored.attributes.status, kontor_domain::review::ReviewStatus::Approved);
    let rejected = browser
        .post(&format!("/backoffice/reviews/{}", ids[1]), &[("action", "reject")])
        .await;
    assert_status(&rejected, StatusCode::SEE_OTHER, "rejecting");
    let deleted = browser
        .post(&format!("/backoffice/reviews/{}", ids[2]), &[("action", "delete")])
        .await;
    assert_status(&deleted, StatusCode::SEE_OTHER, "deleting");
    assert!(app.state.product_reviews.get(ids[2]).await.is_err(), "deleted");
    let approved_list = browser.get("/backoffice/reviews?status=approved").await;
    assert!(approved_list.shows("Sharp pictures") && !approved_list.shows("Battery lasts"));
    let gone = browser
        .post("/backoffice/reviews/999999", &[("action", "approve")])
        .await;
    assert_status(&gone, StatusCode::NOT_FOUND, "an unknown review");

    let viewer = app.signed_in("viewer@example.com", &["read_only"]).await;
    let read_only = viewer.get("/backoffice/reviews?status=rejected").await;
    assert!(read_only.shows("Leaky tent") && !read_only.body.contains(">Approve</button>"));
    let refused = viewer
        .post(&format!("/backoffice/reviews/{}", ids[1]), &[("action", "approve")])
        .await;
    assert_status(&refused, StatusCode::FORBIDDEN, "approving without catalog.write");
}

repo_test_suite!(
    products_are_searched_and_shown,
    texts_prices_and_stock_are_saved,
    read_only_users_see_no_edit_buttons,
    images_are_uploaded_to_the_file_store,
    categories_are_shown_as_a_tree_and_renamed,
    reviews_are_moderated_newest_first,
);
