//! The HTML shop's catalog pages end to end, on the catalog tests' shop (SQL → publish & sync → KV and
//! Tantivy): home, category and search listings with filters, sorts and pages, suggestions, product
//! pages with variants, locales, escaping, the 404, the KV round-trip budget and that anonymous
//! browsing writes nothing to the KV store.
//!
//! [`html_state_for`] builds a storefront state with the default theme; the cart, checkout and account
//! page tests use it too.

use crate::catalog::fixture::{Backend, DownGateway, Shop};
use crate::catalog::kv_backends;
use async_trait::async_trait;
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use kontor_domain::gateway::BackendGateway;
use kontor_kv::{ApplyReport, KvError, KvOp, KvStore};
use kontor_search::SearchIndex;
use kontor_storefront::html::HtmlKit;
use kontor_storefront::{StorefrontOptions, StorefrontState};
use kontor_web::html::{CsrfProtection, LoginThrottle, SessionStore, Theme, ThemeDirs};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tower::ServiceExt;

/// The repository's default theme.
pub(crate) fn default_theme() -> Theme {
    Theme::new(
        ThemeDirs {
            default_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../themes/default")),
            override_dir: None,
        },
        false,
    )
}

/// A storefront state with the HTML shop (default theme, sessions in `kv`, test CSRF secret) over
/// these ports; serve it with `kontor_storefront::router`.
pub(crate) fn html_state_for(
    kv: Arc<dyn KvStore>,
    search: Arc<dyn SearchIndex>,
    gateway: Arc<dyn BackendGateway>,
) -> StorefrontState {
    let kit = HtmlKit {
        theme: default_theme(),
        sessions: SessionStore::new(kv.clone(), "storefront", Duration::from_secs(3600), false),
        csrf: CsrfProtection::new(b"test-secret", false),
        throttle: LoginThrottle::new(5, Duration::from_secs(900)),
        notifier: None,
    };
    let keys = kontor_web::access_token::AccessTokenKeys::from_secret(b"html-tests-secret-0123456789abcdef", 3600);
    StorefrontState::new(
        kv,
        search,
        gateway,
        keys,
        StorefrontOptions {
            public_url: Some("https://shop.example".to_owned()),
            html: Some(Arc::new(kit)),
            ..StorefrontOptions::default()
        },
    )
}

/// Counts KV writes (sessions are the only thing the shop writes there).
struct WriteCountingKv {
    inner: Arc<dyn KvStore>,
    writes: AtomicUsize,
}

#[async_trait]
impl KvStore for WriteCountingKv {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    async fn get(&self, key: &str) -> Result<Option<Value>, KvError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Value>>, KvError> {
        self.inner.get_many(keys).await
    }
    async fn apply(&self, ops: &[KvOp]) -> Result<ApplyReport, KvError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.apply(ops).await
    }
    async fn scan_prefix(
        &self,
        prefix: &str,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, KvError> {
        self.inner.scan_prefix(prefix, after_key, limit).await
    }
    async fn clear(&self) -> Result<u64, KvError> {
        self.inner.clear().await
    }
}

/// The test shop served with its HTML pages (backend down: catalog pages need none).
struct HtmlShop {
    shop: Shop,
    router: axum::Router,
    kv: Arc<WriteCountingKv>,
}

/// A page as a browser gets it.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    /// As sent.
    raw: String,
    /// With the `/` the template engine escapes as `&#x2f;` written plainly, to compare paths.
    body: String,
}

impl Page {
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// `name=value` of a cookie the answer sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|cookie| cookie.starts_with(&format!("{name}=")))
            .and_then(|cookie| cookie.split(';').next().map(str::to_owned))
    }

    /// The CSRF token the layout puts into its meta tag.
    fn csrf_token(&self) -> String {
        let marker = "<meta name=\"csrf-token\" content=\"";
        let start = self.body.find(marker).expect("the layout has a CSRF meta tag") + marker.len();
        self.body[start..].split('"').next().unwrap_or_default().to_owned()
    }

    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    /// The `<form>` element posting to `action`.
    fn form(&self, action: &str) -> &str {
        let start = self
            .body
            .find(&format!("action=\"{action}\""))
            .unwrap_or_else(|| panic!("a form posting to {action} in {}", self.body));
        let end = self.body[start..]
            .find("</form>")
            .map_or(self.body.len(), |end| start + end);
        &self.body[start..end]
    }
}

impl HtmlShop {
    async fn open(backend: Backend) -> Self {
        let shop = Shop::open(backend).await;
        let kv = Arc::new(WriteCountingKv {
            inner: shop.kv.clone(),
            writes: AtomicUsize::new(0),
        });
        let state = html_state_for(kv.clone(), shop.search.clone(), Arc::new(DownGateway));
        Self {
            router: kontor_storefront::router(state),
            shop,
            kv,
        }
    }

    async fn send(&self, request: Request<Body>) -> Page {
        let response = self.router.clone().oneshot(request).await.expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        Page {
            status,
            headers,
            body: raw.replace("&#x2f;", "/"),
            raw,
        }
    }

    async fn get_with(&self, path: &str, cookies: &[String]) -> Page {
        let mut request = Request::get(path);
        if !cookies.is_empty() {
            request = request.header(COOKIE, cookies.join("; "));
        }
        self.send(request.body(Body::empty()).expect("request")).await
    }

    async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// A form post with the cookies of an earlier answer.
    async fn post_form(&self, path: &str, cookies: &[String], form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = Request::post(path)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(COOKIE, cookies.join("; "))
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    async fn close(self) {
        self.shop.close().await;
    }
}

/// The text between the first `<h1…>` and `</h1>`.
fn heading(page: &Page) -> &str {
    let start = page.body.find("<h1").expect("a heading");
    let inner = &page.body[start..];
    let open = inner.find('>').map_or(0, |end| end + 1);
    let close = inner.find("</h1>").unwrap_or(inner.len());
    inner[open..close].trim()
}

async fn home_lists_root_categories_and_products(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let page = shop.get("/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // The store's default locale is German.
    assert!(page.has("<html lang=\"de\">"));
    assert!(
        page.has("href=\"/de/draussen\"") || page.has(">Draußen</a>"),
        "{}",
        page.body
    );
    assert!(page.has(">Draußen</a>"));
    assert!(!page.has(">Jacken</a>"), "only root categories are featured");
    for name in ["Fjell Regenjacke", "Havn Zelt", "Fjell Daunenjacke"] {
        assert!(page.has(name), "{name} is featured");
    }
    // The rain jacket's DEFAULT price, its higher ORIGINAL price struck through, and its picture.
    assert!(page.has("€129.00"));
    assert!(page.has("<s class=\"price-original\">€159.00</s>"));
    assert!(page.has("src=\"https://img.example/100-de-s.jpg\" alt=\"Fjell Regenjacke\""));
    assert!(page.has("href=\"/de/fjell-regenjacke-1\""));
    shop.close().await;
}

async fn a_category_page_filters_sorts_and_pages(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let outdoor = shop.shop.ids.outdoor_node;
    let page = shop.get(&format!("/category/{outdoor}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(heading(&page), "Draußen");
    assert!(page.has("aria-label=\"Subcategories of Draußen\""));
    assert!(page.has(">Jacken</a> <span class=\"count\">(2)</span>"));
    assert!(page.has(">Zelte</a> <span class=\"count\">(1)</span>"));
    assert!(page.has("3 products"));

    // By its URL, in the URL's language: filtered by brand, sorted by price descending, one a page.
    let page = shop
        .get("/en/jackets?brand%5B%5D=Fjell&sort=price_desc&ipp=1&page=2")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.has("<html lang=\"en\">"));
    assert_eq!(heading(&page), "Jackets");
    assert!(
        page.has("<a href=\"/en/outdoor\">Outdoor</a>"),
        "breadcrumb: {}",
        page.body
    );
    assert!(page.has("<span aria-current=\"page\">Jackets</span>"));
    assert!(page.has("2 products, page 2 of 2"));
    // Page 2 of the price-descending order is the cheaper jacket.
    assert!(page.has("Fjell Rain Jacket"));
    assert!(!page.has("Fjell Down Jacket"));
    assert!(page.has("name=\"brand[]\" value=\"Fjell\" checked"));
    assert!(page.has("<option value=\"price_desc\" selected>"));
    assert!(page.has("<input type=\"hidden\" name=\"ipp\" value=\"1\">"));
    // Page links keep the filters, the sort and the page size.
    assert!(
        page.has("href=\"/en/jackets?brand%5B%5D=Fjell&amp;sort=price_desc&amp;ipp=1&amp;page=1\" rel=\"prev\""),
        "{}",
        page.body
    );
    let first = shop
        .get("/en/jackets?brand%5B%5D=Fjell&sort=price_desc&ipp=1&page=1")
        .await;
    assert!(first.has("Fjell Down Jacket") && !first.has("Fjell Rain Jacket"));
    assert!(first.has("rel=\"next\""));

    // A brand no jacket has: nothing, and the filter can be cleared.
    let none = shop.get("/en/jackets?brand%5B%5D=Havn").await;
    assert!(none.has("No products match these filters."), "{}", none.body);
    assert!(none.has("href=\"/en/jackets\">Clear the filters</a>"));

    assert_eq!(shop.get("/category/999999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(shop.get("/category/abc").await.status, StatusCode::NOT_FOUND);
    let malformed = shop.get("/en/jackets?page=0").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.has("page must be an integer of at least 1"));
    shop.close().await;
}

async fn search_shows_hits_and_suggestions(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let page = shop.get("/search?q=fjell").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(heading(&page), "Search results for “fjell”");
    assert!(page.has("value=\"fjell\""), "the search box keeps the text");
    assert!(page.has("<input type=\"hidden\" name=\"q\" value=\"fjell\">"));
    assert!(page.has("Fjell Regenjacke") && page.has("Fjell Daunenjacke"));
    assert!(!page.has("Havn Zelt"));
    assert!(page.has("2 products"));
    // Narrowing by a category keeps the text.
    let jackets = shop.shop.ids.jackets_node;
    assert!(
        page.has(&format!("href=\"/search?q=fjell&amp;category={jackets}\"")),
        "{}",
        page.body
    );
    let narrowed = shop
        .get(&format!("/search?q=fjell&category={jackets}&sort=name_asc"))
        .await;
    assert_eq!(narrowed.status, StatusCode::OK);
    assert!(narrowed.has(&format!(
        "<input type=\"hidden\" name=\"category\" value=\"{jackets}\">"
    )));
    let down = narrowed.body.find("Fjell Daunenjacke").expect("down jacket");
    let rain = narrowed.body.find("Fjell Regenjacke").expect("rain jacket");
    assert!(down < rain, "sorted by name");

    let suggest = shop.get("/search/suggest?q=fje").await;
    assert_eq!(suggest.status, StatusCode::OK);
    assert!(
        suggest
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"))
    );
    let body: Value = serde_json::from_str(&suggest.body).expect("JSON");
    let suggestions = body["suggestions"].as_array().expect("a list");
    assert!(
        suggestions
            .iter()
            .any(|entry| entry["name"] == "Fjell Regenjacke" && entry["url"] == "/de/fjell-regenjacke-1"),
        "{body}"
    );
    assert!(
        suggestions
            .iter()
            .all(|entry| entry["url"].as_str().is_some_and(|url| url.starts_with('/')))
    );
    let empty: Value = serde_json::from_str(&shop.get("/search/suggest?q=").await.body).expect("JSON");
    assert_eq!(empty, serde_json::json!({"suggestions": []}));
    shop.close().await;
}

async fn a_product_page_chooses_among_variants(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let page = shop.get("/en/fjell-rain-jacket-1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(heading(&page), "Fjell Rain Jacket");
    assert!(page.has("Light, taped seams"));
    assert!(
        page.has("<th scope=\"row\">Brand</th><td>Fjell</td>"),
        "translated attribute label"
    );
    assert!(page.has("alt=\"Fjell Rain Jacket, picture 1 of 2\""));
    // Nothing chosen yet: the product's price and the form disabled, without a SKU.
    assert!(page.has("€129.00") && page.has("<s class=\"price-original\">€159.00</s>"));
    assert!(page.has("<li>from 5 pieces: €119.00 each</li>"), "the volume price");
    assert!(
        page.has("Rated 4.3 of 5 (3 reviews)"),
        "the rating of the approved reviews"
    );
    let form = page.form("/cart/add");
    assert!(form.contains("<fieldset disabled>") && !form.contains("name=\"sku\""));
    assert!(page.has("Please choose a variant first."));
    assert!(page.has("href=\"/en/fjell-rain-jacket-1?variant=100_red\""));
    assert!(page.has("<label for=\"attribute-color\">Colour</label>"));

    // The red one by its link: its own price, the product's ORIGINAL struck through, sold out.
    let red = shop.get("/en/fjell-rain-jacket-1?variant=100_red").await;
    assert_eq!(heading(&red), "Fjell Rain Jacket");
    assert!(red.has("<p class=\"variant-name\">Fjell Rain Jacket Red</p>"));
    assert!(red.has(
        "<span class=\"price\">€119.00</span> <span class=\"visually-hidden\">instead of</span><s class=\"price-original\">€159.00</s>"
    ));
    assert!(red.has("<p class=\"availability availability-unavailable\">Out of stock</p>"));
    assert!(!red.has("volume-prices"), "its own price has no volume prices");
    assert!(
        red.has("src=\"https://img.example/100_red-l.jpg\""),
        "the variant's own picture"
    );
    let form = red.form("/cart/add");
    assert!(form.contains("name=\"sku\" value=\"100_red\"") && form.contains("<fieldset disabled>"));
    assert!(red.has("This variant is out of stock."));

    // The blue one by the attribute select: the product's price, in stock, ready for the cart.
    let blue = shop.get("/en/fjell-rain-jacket-1?attribute%5Bcolor%5D=Blue").await;
    assert!(blue.has("<p class=\"variant-name\">Fjell Rain Jacket Blue</p>"));
    assert!(blue.has("<span class=\"price\">€129.00</span>"));
    assert!(blue.has("<p class=\"availability availability-available\">In stock</p>"));
    assert!(blue.has("<option value=\"Blue\" selected>"));
    let form = blue.form("/cart/add");
    assert!(form.contains("method=\"post\"") || blue.has("method=\"post\" action=\"/cart/add\""));
    assert!(
        form.contains("<input type=\"hidden\" name=\"sku\" value=\"100_blue\">"),
        "{form}"
    );
    assert!(form.contains("name=\"_csrf\"") && form.contains("name=\"quantity\""));
    assert!(form.contains("name=\"return_to\" value=\"/en/fjell-rain-jacket-1?attribute%5Bcolor%5D=Blue\""));
    assert!(!form.contains("disabled"), "{form}");

    // By SKU an anonymous shopper gets the store's default locale.
    let by_sku = shop.get("/product/100?variant=100_blue").await;
    assert_eq!(heading(&by_sku), "Fjell Regenjacke");
    assert!(by_sku.has("<th scope=\"row\">Marke</th><td>Fjell</td>"));
    assert_eq!(shop.get("/product/nope").await.status, StatusCode::NOT_FOUND);
    shop.close().await;
}

async fn a_single_variant_product_is_chosen_already(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let page = shop.get("/product/200").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(heading(&page), "Havn Zelt");
    assert!(page.has("€349.00"));
    assert!(!page.has("price-original"), "no ORIGINAL price");
    assert!(page.has("availability-available\">In stock"));
    assert!(!page.has("class=\"variant-form\""), "nothing to choose");
    let form = page.form("/cart/add");
    assert!(form.contains("<input type=\"hidden\" name=\"sku\" value=\"200_std\">"));
    assert!(!form.contains("disabled"));
    shop.close().await;
}

async fn switching_the_locale_changes_the_names(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let first = shop.get("/product/100").await;
    assert_eq!(heading(&first), "Fjell Regenjacke");
    let csrf_cookie = first.cookie("kontor_csrf").expect("a CSRF cookie");
    let switched = shop
        .post_form(
            "/switch",
            std::slice::from_ref(&csrf_cookie),
            &[
                ("_csrf", &first.csrf_token()),
                ("locale", "en_US"),
                ("currency", "CHF"),
                ("return_to", "/product/100"),
            ],
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.body);
    assert_eq!(switched.location(), "/product/100");
    let session = switched
        .cookie("kontor_storefront")
        .expect("the switch keeps a session");
    let cookies = [csrf_cookie, session];
    let english = shop.get_with("/product/100", &cookies).await;
    assert_eq!(heading(&english), "Fjell Rain Jacket");
    assert!(english.has("<html lang=\"en\">"));
    assert!(english.has("CHF 139.00"), "the price in the chosen currency");
    // The shopper's choice wins over the language of a URL.
    let german_url = shop.get_with("/de/fjell-regenjacke-1", &cookies).await;
    assert_eq!(heading(&german_url), "Fjell Rain Jacket");
    let home = shop.get_with("/", &cookies).await;
    assert!(home.has(">Outdoor</a>") && home.has("Fjell Rain Jacket"));
    shop.close().await;
}

async fn product_names_are_escaped(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    // A product document whose name carries markup, newer than the published one.
    let key = format!("product_abstract:de:de_de:{}", shop.shop.ids.jacket);
    let mut document = shop
        .shop
        .kv
        .get(&key)
        .await
        .expect("read")
        .expect("the jacket's document");
    let timestamp = document["_timestamp"].as_f64().expect("a timestamp");
    document["name"] = Value::String("<script>alert(1)</script> Jacke".to_owned());
    document["_timestamp"] = serde_json::json!(timestamp + 1.0);
    shop.shop
        .kv
        .apply(&[KvOp::write_document(key, document).expect("a document")])
        .await
        .expect("write");
    let page = shop.get("/product/100").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.raw.contains("<script>alert(1)"), "{}", page.raw);
    assert!(
        page.raw
            .contains("<h1 id=\"product-name\">&lt;script&gt;alert(1)&lt;&#x2f;script&gt; Jacke</h1>")
    );
    shop.close().await;
}

async fn unknown_paths_are_the_shops_404(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let page = shop.get("/en/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html"))
    );
    assert_eq!(heading(&page), "Page not found");
    assert!(page.has("<code>/en/no-such-page</code>"));
    // Another spelling of a URL goes to the stored one.
    let moved = shop.get("/EN/Jackets?sort=name_asc").await;
    assert_eq!(moved.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(moved.location(), "/en/jackets?sort=name_asc");
    // What the shop does not own keeps its answers.
    let api = shop.get("/api/nothing-here").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(!api.body.contains("<html"), "{}", api.body);
    assert!(!shop.get("/assets/missing.css").await.body.contains("<html"));
    assert_eq!(shop.get("/assets/storefront.css").await.status, StatusCode::OK);
    assert_eq!(shop.get("/health").await.status, StatusCode::OK);
    assert_eq!(shop.get("/api/stores").await.status, StatusCode::OK);
    shop.close().await;
}

async fn anonymous_catalog_pages_write_nothing(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    let outdoor = shop.shop.ids.outdoor_node;
    for path in [
        "/".to_owned(),
        format!("/category/{outdoor}"),
        "/en/jackets?brand%5B%5D=Fjell".to_owned(),
        "/search?q=fjell".to_owned(),
        "/search/suggest?q=fje".to_owned(),
        "/product/100?variant=100_blue".to_owned(),
        "/en/fjell-rain-jacket-1".to_owned(),
        "/nowhere".to_owned(),
    ] {
        let page = shop.get(&path).await;
        assert!(
            page.status.is_success() || page.status == StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(page.cookie("kontor_storefront"), None, "{path} starts no session");
    }
    assert_eq!(shop.kv.writes.load(Ordering::SeqCst), 0, "no KV write");
    shop.close().await;
}

async fn pages_cost_the_json_apis_kv_round_trips(backend: Backend) {
    let shop = HtmlShop::open(backend).await;
    // Warm the store list (cached by the state) so the counts are about the pages alone.
    assert_eq!(shop.get("/health").await.status, StatusCode::OK);
    shop.get("/").await;
    shop.shop.take_round_trips();
    assert_eq!(shop.get("/product/100").await.status, StatusCode::OK);
    assert_eq!(
        shop.shop.take_round_trips(),
        (3, 0, 0),
        "SKU mapping, product documents, variants: like abstract-products/100 with its includes"
    );
    assert_eq!(shop.get("/en/fjell-rain-jacket-1").await.status, StatusCode::OK);
    assert_eq!(
        shop.shop.take_round_trips(),
        (3, 0, 0),
        "the URL instead of the SKU mapping"
    );
    assert_eq!(shop.get("/en/jackets").await.status, StatusCode::OK);
    assert_eq!(
        shop.shop.take_round_trips(),
        (2, 0, 1),
        "the URL, then one search and one read like catalog-search"
    );
    assert_eq!(shop.get("/").await.status, StatusCode::OK);
    assert_eq!(shop.shop.take_round_trips(), (1, 0, 1));
    shop.close().await;
}

#[test]
fn the_default_theme_compiles() {
    let checked = default_theme().check().expect("every template compiles");
    assert!(checked >= 8, "{checked} templates");
}

kv_backends!(
    home_lists_root_categories_and_products,
    a_category_page_filters_sorts_and_pages,
    search_shows_hits_and_suggestions,
    a_product_page_chooses_among_variants,
    a_single_variant_product_is_chosen_already,
    switching_the_locale_changes_the_names,
    product_names_are_escaped,
    unknown_paths_are_the_shops_404,
    anonymous_catalog_pages_write_nothing,
    pages_cost_the_json_apis_kv_round_trips,
);
