//! The four end-to-end scenarios of the HTML shop and the Back Office (issue 8), in headless Chromium
//! against `kontor demo` (generated catalog, import, publish & sync, all roles in one process):
//! 1. a guest searches, picks a variant, checks out and sees the confirmation;
//! 2. a catalog manager changes a price in the Back Office and the shop's product page shows it;
//! 3. a read-only user is refused a catalog edit (403) and the attempt is in the audit log;
//! 4. an order's status change appears on the customer's open order page without a reload.
//!
//! With `KONTOR_SCREENSHOTS=<dir>` (`scripts/screenshots`) they also take the README's screenshots.

use crate::browser::Browser;
use crate::cli::Shop;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long the pipeline may take to make a change visible in the shop (SQL commit → KV).
const VISIBLE_WITHIN: Duration = Duration::from_secs(20);

/// `kontor demo` serving a small generated catalog, with the admin's credentials.
struct DemoShop {
    shop: Shop,
    child: Child,
    storefront: String,
    backend: String,
    admin_password: String,
    admin_token: String,
}

impl Drop for DemoShop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DemoShop {
    /// Starts the demo and waits until the shop's search finds products.
    async fn start() -> Self {
        let shop = Shop::new();
        let mut child = shop
            .command()
            .args(["demo", "--products", "24"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn demo");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut storefront, mut backend) = (String::new(), String::new());
        while storefront.is_empty() || backend.is_empty() {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).expect("demo output") > 0,
                "demo ended early"
            );
            if let Some(url) = line.trim().strip_prefix("storefront listening on ") {
                storefront = url.trim_end_matches("/api").to_owned();
            }
            if let Some(url) = line.trim().strip_prefix("backend listening on ") {
                backend = url.to_owned();
            }
        }
        // Keep reading so the demo never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        let credentials = std::fs::read_to_string(shop.dir.join("var/demo-credentials")).expect("credentials");
        let field = |name: &str| {
            credentials
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_owned())
                .expect("credential line")
        };
        let demo = Self {
            admin_password: field("password:"),
            admin_token: field("api token:"),
            shop,
            child,
            storefront,
            backend,
        };
        let started = Instant::now();
        loop {
            let found = demo.storefront_json("/api/catalog-search").await;
            if found["data"][0]["attributes"]["pagination"]["numFound"]
                .as_u64()
                .unwrap_or(0)
                > 0
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the catalog was not published: {found}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        demo
    }

    async fn storefront_json(&self, path: &str) -> Value {
        match reqwest::get(format!("{}{path}", self.storefront)).await {
            Ok(response) => response.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.backend))
            .bearer_auth(&self.admin_token)
            .header("accept", "application/vnd.api+json");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/vnd.api+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("admin API");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates a Back Office user with `role` through the CLI; the password is `correct horse battery`.
    fn user(&self, email: &str, role: &str) {
        let mut child = self
            .shop
            .command()
            .args(["user", "create", "--email", email, "--password-stdin", "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("user create");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"correct horse battery\n")
            .expect("password");
        let output = child.wait_with_output().expect("user create ends");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    /// An abstract product of the shop that has a variant in stock, by SKU (from the search).
    async fn product_in_stock(&self) -> (String, String) {
        let found = self.storefront_json("/api/catalog-search?page%5Blimit%5D=24").await;
        let products = found["data"][0]["attributes"]["abstractProducts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for product in products {
            let sku = product["abstractSku"].as_str().unwrap_or_default().to_owned();
            let availability = self
                .storefront_json(&format!("/api/abstract-products/{sku}/abstract-product-availabilities"))
                .await;
            if availability["data"][0]["attributes"]["availability"].as_bool() == Some(true) {
                let name = product["abstractName"].as_str().unwrap_or_default().to_owned();
                return (sku, name);
            }
        }
        panic!("no product of the demo catalog is available: {found}");
    }
}

/// Chooses `value` in the select matching `css`.
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser.find(css).await;
    browser
        .client()
        .execute(
            "document.querySelector(arguments[0]).value = arguments[1];",
            vec![json!(css), json!(value)],
        )
        .await
        .expect("choose an option");
}

/// The form errors on the current page (`id: message`), for failure messages.
async fn page_errors(browser: &Browser) -> String {
    browser
        .client()
        .execute(
            "return [...document.querySelectorAll('.error')].map(e => (e.id || 'form') + ': ' + e.textContent.trim()).join('; ');",
            Vec::new(),
        )
        .await
        .ok()
        .and_then(|errors| errors.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Signs in to the Back Office.
async fn back_office_sign_in(browser: &Browser, shop: &DemoShop, email: &str, password: &str) {
    browser.goto(&format!("{}/backoffice/login", shop.backend)).await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.click("form button[type=submit]").await;
    browser
        .wait_for_text("header .user", email, Duration::from_secs(5))
        .await;
}

/// Puts a variant of `sku` into the cart from its product page: the first variant link when the page
/// lists several, then "Add to cart".
async fn add_to_cart(browser: &Browser, shop: &DemoShop, sku: &str) {
    browser.goto(&format!("{}/product/{sku}", shop.storefront)).await;
    let variants = browser
        .client()
        .execute(
            "return [...document.querySelectorAll('section.variants li')]
               .filter(li => li.querySelector('.availability-available')).map(li => li.querySelector('a').href);",
            Vec::new(),
        )
        .await
        .expect("variant links");
    if let Some(first) = variants
        .as_array()
        .and_then(|links| links.first())
        .and_then(Value::as_str)
    {
        browser.goto(first).await;
    }
    browser.screenshot("shop-product").await;
    browser.click("form.add-to-cart button[type=submit]").await;
    browser.goto(&format!("{}/cart", shop.storefront)).await;
    browser.find("a[href='/checkout/address']").await;
}

/// Fills the address step (`guest_email` only for guests), then shipment, payment and summary; returns
/// the order reference from the confirmation.
async fn check_out(browser: &Browser, shop: &DemoShop, guest_email: Option<&str>) -> String {
    browser.goto(&format!("{}/checkout/address", shop.storefront)).await;
    if let Some(email) = guest_email {
        browser.fill("[name='customer.email']", email).await;
    }
    choose(browser, "[name='billingAddress.salutation']", "Ms").await;
    for (field, value) in [
        ("firstName", "Erika"),
        ("lastName", "Muster"),
        ("address1", "Hauptstraße 5"),
        ("zipCode", "10115"),
        ("city", "Berlin"),
        ("iso2Code", "DE"),
    ] {
        browser.fill(&format!("[name='billingAddress.{field}']"), value).await;
    }
    browser.screenshot("shop-checkout-address").await;
    browser.click("form.checkout-form button[type=submit]").await;
    browser.wait_for_text("h1", "", Duration::from_secs(5)).await;
    for step in ["shipment", "payment"] {
        let reached = browser
            .wait_for_url_ending(&format!("/checkout/{step}"), Duration::from_secs(10))
            .await;
        if reached.is_none() {
            let url = browser.client().current_url().await.expect("url").to_string();
            panic!("expected the {step} step, at {url}: {}", page_errors(browser).await);
        }
        browser.click("form.checkout-form input[type=radio]").await;
        browser.click("form.checkout-form button[type=submit]").await;
    }
    browser.find("form.place-order").await;
    browser.screenshot("shop-checkout-summary").await;
    browser.click("form.place-order button[type=submit]").await;
    browser
        .wait_for_text("h1", "Thank you for your order", Duration::from_secs(10))
        .await;
    browser.screenshot("shop-confirmation").await;
    browser.text_of(".order-reference").await
}

#[tokio::test]
async fn scenario_1_a_guest_searches_picks_a_variant_checks_out_and_sees_the_confirmation() {
    let shop = DemoShop::start().await;
    let (sku, name) = shop.product_in_stock().await;
    let browser = Browser::start().await;
    browser.goto(&shop.storefront).await;
    browser.screenshot("shop-home").await;
    let word = name.split_whitespace().last().expect("a product name has words");
    browser.fill("#q", word).await;
    browser.click("form.search button[type=submit]").await;
    browser.wait_for_text("main", &name, Duration::from_secs(5)).await;
    browser.screenshot("shop-search").await;
    let link = browser
        .client()
        .execute(
            "return [...document.querySelectorAll('main a')].find(a => a.textContent.trim() === arguments[0])?.href;",
            vec![json!(name)],
        )
        .await
        .expect("result link");
    let link = link
        .as_str()
        .unwrap_or_else(|| panic!("no search result links to {name}"));
    browser.goto(link).await;
    browser
        .wait_for_text("#product-name", &name, Duration::from_secs(5))
        .await;
    add_to_cart(&browser, &shop, &sku).await;
    browser.screenshot("shop-cart").await;
    let reference = check_out(&browser, &shop, Some("guest@example.com")).await;
    assert!(!reference.trim().is_empty());
    let (status, order) = shop
        .admin(
            reqwest::Method::GET,
            &format!("/admin/orders/{}", reference.trim()),
            None,
        )
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["data"]["attributes"]["email"], "guest@example.com", "{order}");
}

/// The shop's displayed price of `sku` (first `.price` of the product page), e.g. `€39.90`.
async fn shown_price(browser: &Browser, shop: &DemoShop, sku: &str) -> String {
    browser.goto(&format!("{}/product/{sku}", shop.storefront)).await;
    browser.text_of("main .price").await
}

#[tokio::test]
async fn scenario_2_a_price_changed_in_the_back_office_shows_in_the_shop_within_seconds() {
    let shop = DemoShop::start().await;
    let (sku, _) = shop.product_in_stock().await;
    shop.user("catalog@example.com", "catalog_manager");
    let browser = Browser::start().await;
    let before = shown_price(&browser, &shop, &sku).await;
    let store = browser.text_of("select[name=store] option[selected]").await;
    let amount = before
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .replace(',', "");
    let (_, found) = shop
        .admin(
            reqwest::Method::GET,
            &format!("/admin/abstract-products?filter%5Bsku%5D={sku}"),
            None,
        )
        .await;
    let id = found["data"][0]["id"].as_str().expect("the product's id").to_owned();

    back_office_sign_in(&browser, &shop, "catalog@example.com", "correct horse battery").await;
    browser.screenshot("backoffice-dashboard").await;
    browser
        .goto(&format!("{}/backoffice/products?q={sku}", shop.backend))
        .await;
    browser.screenshot("backoffice-products").await;
    browser
        .goto(&format!("{}/backoffice/products/{id}", shop.backend))
        .await;
    // The price row the shop shows: this store, its currency, DEFAULT, with the amount on the page.
    let form = browser
        .client()
        .execute(
            "const rows = [...document.querySelectorAll('form.row-form[id^=price-]')].filter(f => {
                 const legend = f.querySelector('legend').textContent;
                 return legend.includes(' · ' + arguments[1] + ' · ') && legend.includes('· DEFAULT')
                     && f.querySelector('input[name=amount]').value === arguments[0];
             });
             return (rows.find(f => !f.querySelector('legend').textContent.includes('(variant)')) || rows[0])?.id;",
            vec![json!(amount), json!(store.trim())],
        )
        .await
        .expect("price forms");
    let form = form
        .as_str()
        .unwrap_or_else(|| panic!("no DEFAULT price row of {amount} on the product's page"))
        .to_owned();
    let new_amount = if amount == "77.77" { "66.66" } else { "77.77" };
    browser.fill(&format!("#{form} input[name=amount]"), new_amount).await;
    browser.screenshot("backoffice-product").await;
    browser.click(&format!("#{form} button[type=submit]")).await;
    browser.wait_for_text(".flash", "", Duration::from_secs(5)).await;

    let started = Instant::now();
    loop {
        let shown = shown_price(&browser, &shop, &sku).await;
        if shown.contains(new_amount) {
            break;
        }
        assert!(
            started.elapsed() < VISIBLE_WITHIN,
            "the shop still shows {shown} after {VISIBLE_WITHIN:?} (was {before}, set {new_amount})"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!("price visible in the shop {:?} after the save", started.elapsed());
}

#[tokio::test]
async fn scenario_3_a_read_only_user_is_refused_a_catalog_edit_and_the_attempt_is_audited() {
    let shop = DemoShop::start().await;
    let (sku, _) = shop.product_in_stock().await;
    shop.user("viewer@example.com", "read_only");
    let (_, found) = shop
        .admin(
            reqwest::Method::GET,
            &format!("/admin/abstract-products?filter%5Bsku%5D={sku}"),
            None,
        )
        .await;
    let id = found["data"][0]["id"].as_str().expect("the product's id").to_owned();
    let browser = Browser::start().await;
    back_office_sign_in(&browser, &shop, "viewer@example.com", "correct horse battery").await;
    browser
        .goto(&format!("{}/backoffice/products/{id}", shop.backend))
        .await;
    let buttons = browser
        .client()
        .execute(
            "return [...document.querySelectorAll('button')].map(b => b.textContent.trim()).filter(t => t.startsWith('Save'));",
            Vec::new(),
        )
        .await
        .expect("buttons");
    assert_eq!(buttons, json!([]), "a read-only user sees no save buttons");
    // The edit anyway, as the page's own form would send it: the server refuses it.
    let status = browser
        .client()
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const token = document.querySelector('meta[name=csrf-token]').content;
             fetch(location.pathname + '/prices', {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'},
                   body: new URLSearchParams({_csrf: token, price: '1', amount: '1.00'})})
               .then(r => done(r.status), () => done(0));",
            Vec::new(),
        )
        .await
        .expect("the edit request");
    assert_eq!(status, json!(403));
    drop(browser);

    let browser = Browser::start().await;
    back_office_sign_in(&browser, &shop, "admin@example.com", &shop.admin_password).await;
    browser
        .goto(&format!("{}/backoffice/audit?outcome=denied", shop.backend))
        .await;
    let log = browser
        .wait_for_text("main table", "viewer@example.com", Duration::from_secs(5))
        .await;
    assert!(log.contains(&format!("/backoffice/products/{id}/prices")), "{log}");
    browser.screenshot("backoffice-audit").await;
}

#[tokio::test]
async fn scenario_4_an_order_status_change_appears_on_the_open_order_page_without_reload() {
    let shop = DemoShop::start().await;
    let (sku, _) = shop.product_in_stock().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/register", shop.storefront)).await;
    choose(&browser, "[name=salutation]", "Ms").await;
    browser.fill("[name=firstName]", "Ada").await;
    browser.fill("[name=lastName]", "Lovelace").await;
    browser.fill("[name=email]", "ada@example.com").await;
    browser.fill("[name=password]", "correct horse battery").await;
    browser.fill("[name=confirmPassword]", "correct horse battery").await;
    browser.click("#f-acceptedTerms").await;
    browser.click("form.account-form button[type=submit]").await;
    let errors = page_errors(&browser).await;
    assert!(errors.is_empty(), "registration refused: {errors}");
    browser
        .wait_for_text("header .account", "Ada", Duration::from_secs(5))
        .await;
    add_to_cart(&browser, &shop, &sku).await;
    let reference = check_out(&browser, &shop, None).await.trim().to_owned();

    // The worker confirms the new order (onEnter) and then waits for payment: the manual event `pay`.
    let started = Instant::now();
    let item = loop {
        let (_, order) = shop
            .admin(reqwest::Method::GET, &format!("/admin/orders/{reference}"), None)
            .await;
        let ready = order["data"]["attributes"]["items"].as_array().and_then(|items| {
            items.iter().find(|item| {
                item["manualEvents"]
                    .as_array()
                    .is_some_and(|events| events.iter().any(|event| event == "pay"))
            })
        });
        if let Some(item) = ready {
            break item["id"].clone();
        }
        assert!(
            started.elapsed() < VISIBLE_WITHIN,
            "the order never waited for payment: {order}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    browser
        .goto(&format!("{}/account/orders/{reference}", shop.storefront))
        .await;
    // The page shows states by their glossary names (`oms.state.*` of the demo catalog) in its language.
    let language = browser
        .client()
        .execute("return document.documentElement.lang;", Vec::new())
        .await
        .expect("page language");
    let (pending, paid) = if language == json!("de") {
        ("Zahlung ausstehend", "Bezahlt")
    } else {
        ("Awaiting payment", "Paid")
    };
    browser
        .wait_for_text("[data-order-status]", pending, Duration::from_secs(5))
        .await;
    browser.screenshot("shop-order").await;
    // The page's script opens the WebSocket after load; mark the document so a reload would show.
    browser
        .client()
        .execute("window.kontorNoReload = true;", Vec::new())
        .await
        .expect("mark");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, fired) = shop
        .admin(
            reqwest::Method::POST,
            &format!("/admin/orders/{reference}/events"),
            Some(json!({"data": {"type": "oms-events", "attributes": {"event": "pay", "items": [item]}}})),
        )
        .await;
    assert_eq!(status, 200, "{fired}");
    browser
        .wait_for_text("[data-order-status]", paid, Duration::from_secs(10))
        .await;
    let same_document = browser
        .client()
        .execute("return window.kontorNoReload === true;", Vec::new())
        .await
        .expect("check");
    assert_eq!(same_document, json!(true), "the status changed by a reload, not live");
}
