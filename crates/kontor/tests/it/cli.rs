use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A data directory of its own and the `kontor` binary pointed at it.
pub(crate) struct Shop {
    pub(crate) dir: PathBuf,
}

impl Shop {
    pub(crate) fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("kontor-cli-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self { dir }
    }

    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kontor"));
        command
            .current_dir(&self.dir)
            .env("KONTOR_DATA_DIR", self.dir.join("var"))
            .env("KONTOR_BACKEND__LISTEN", "127.0.0.1:0")
            .env("KONTOR_STOREFRONT__LISTEN", "127.0.0.1:0")
            .env("KONTOR_LOG__FILTER", "warn")
            .env("RUST_BACKTRACE", "0")
            .env_remove("KONTOR_DATABASE__URL")
            .env_remove("KONTOR_SCHEDULER__JOBS_FILE");
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run kontor")
    }

    /// Starts `kontor backend` and returns it with its base URL, read from its first line of output.
    fn start_backend(&self) -> (Backend, String) {
        let mut child = self
            .command()
            .arg("backend")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("backend listening on ")
            .expect("listening line")
            .to_owned();
        (Backend(child), url)
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Kills the backend process when the test ends, also when it fails.
struct Backend(Child);

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where `serve` listens, from its start-up lines (the roles start concurrently, in any order).
struct Listening {
    backend: String,
    storefront: String,
}

fn read_listening_lines(reader: &mut impl BufRead) -> Listening {
    let (mut backend, mut storefront) = (None, None);
    while backend.is_none() || storefront.is_none() {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read the listening lines");
        assert!(read > 0, "serve ended before it listened");
        if let Some(url) = line.trim().strip_prefix("backend listening on ") {
            backend = Some(url.to_owned());
        }
        if let Some(url) = line.trim().strip_prefix("storefront listening on ") {
            storefront = Some(url.to_owned());
        }
    }
    Listening {
        backend: backend.unwrap_or_default(),
        storefront: storefront.unwrap_or_default(),
    }
}

pub(crate) fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

pub(crate) fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn token_from(output: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix("api token (shown once): "))
        .expect("the token is printed")
        .to_owned()
}

#[tokio::test]
async fn fresh_sqlite_migrate_user_create_and_curl_a_catalog() {
    let shop = Shop::new();
    let first = stdout(&shop.run(&["migrate"]));
    assert!(
        first.contains("migration(s) applied") && !first.starts_with("0 "),
        "{first}"
    );
    let second = stdout(&shop.run(&["migrate"]));
    assert!(second.starts_with("0 migration(s) applied"), "{second}");
    assert!(Path::new(&shop.dir.join("var/kontor.db")).exists());

    let created = stdout(&shop.run(&["user", "create", "--email", "ops@example.com", "--api-token"]));
    let token = token_from(&created);
    let (_backend, base) = shop.start_backend();
    let client = reqwest::Client::new();
    let post = |kind: &'static str, attributes: Value| {
        let request = client
            .post(format!("{base}/admin/{kind}"))
            .bearer_auth(&token)
            .header("content-type", "application/vnd.api+json")
            .body(json!({"data": {"type": kind, "attributes": attributes}}).to_string());
        async move {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(status, 201, "{kind}: {body}");
            body["data"]["id"].as_str().expect("id").to_owned()
        }
    };
    post("locales", json!({"name": "de_DE"})).await;
    post("currencies", json!({"code": "EUR", "name": "Euro"})).await;
    post(
        "stores",
        json!({"name": "DE", "defaultLocale": "de_DE", "defaultCurrency": "EUR"}),
    )
    .await;
    post(
        "categories",
        json!({"categoryKey": "cameras", "stores": ["DE"], "localizedAttributes": {"de_DE": {"name": "Kameras"}}}),
    )
    .await;
    let product = post(
        "abstract-products",
        json!({"sku": "100", "stores": ["DE"], "localizedAttributes": {"de_DE": {"name": "Kamera"}}}),
    )
    .await;
    post(
        "concrete-products",
        json!({"sku": "100_a", "abstractSku": "100", "localizedAttributes": {"de_DE": {"name": "Kamera A"}}}),
    )
    .await;
    post(
        "concrete-products",
        json!({"sku": "100_b", "abstractSku": "100", "localizedAttributes": {"de_DE": {"name": "Kamera B"}}}),
    )
    .await;
    post(
        "product-categories",
        json!({"abstractSku": "100", "categoryKey": "cameras"}),
    )
    .await;
    post(
        "prices",
        json!({"abstractSku": "100", "store": "DE", "currency": "EUR", "grossAmount": 12999}),
    )
    .await;
    post("warehouses", json!({"name": "Main", "stores": ["DE"]})).await;
    post("stocks", json!({"sku": "100_a", "warehouse": "Main", "quantity": 5})).await;

    let read: Value = client
        .get(format!("{base}/admin/abstract-products/{product}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(read["data"]["attributes"]["sku"], "100");
    assert_eq!(
        read["data"]["attributes"]["localizedAttributes"]["de_DE"]["name"],
        "Kamera"
    );
    let concretes: Value = client
        .get(format!("{base}/admin/concrete-products?filter[sku]=100_"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(concretes["meta"]["total"], 2);
    let health = client.get(format!("{base}/health")).send().await.expect("request");
    assert_eq!(health.status().as_u16(), 200);
}

#[test]
fn backend_refuses_an_unmigrated_database() {
    let shop = Shop::new();
    let output = shop.command().arg("backend").output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("kontor migrate"), "{stderr}");
}

#[test]
fn config_show_redacts_secrets_and_bad_values_name_the_key() {
    let shop = Shop::new();
    let shown = shop
        .command()
        .env(
            "KONTOR_DATABASE__URL",
            "postgres://kontor:hunter2-secret@db.internal/kontor",
        )
        .env("KONTOR_INTERNAL__TOKEN", "internal-secret-value")
        .args(["config", "show"])
        .output()
        .expect("run");
    let text = stdout(&shown);
    assert!(text.contains("[database]"), "{text}");
    assert!(
        !text.contains("hunter2-secret") && !text.contains("internal-secret-value"),
        "{text}"
    );

    let bad = shop
        .command()
        .env("KONTOR_DATABASE__MAX_CONNECTIONS", "many")
        .args(["config", "show"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("max_connections"), "{stderr}");

    std::fs::write(shop.dir.join("kontor.toml"), "[log]\nformat = \"xml\"\n").expect("write config");
    let bad_file = shop.run(&["config", "show"]);
    assert!(!bad_file.status.success());
    let stderr = String::from_utf8_lossy(&bad_file.stderr);
    assert!(
        stderr.contains("`log.format`") && stderr.contains("kontor.toml"),
        "{stderr}"
    );
}

#[test]
fn user_create_rejects_bad_input_clearly() {
    let shop = Shop::new();
    stdout(&shop.run(&["migrate"]));
    let bad_email = shop.run(&["user", "create", "--email", "not-an-email"]);
    assert!(!bad_email.status.success());
    assert!(String::from_utf8_lossy(&bad_email.stderr).contains("email"));

    let mut short = shop
        .command()
        .args(["user", "create", "--email", "a@example.com", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = short.stdin.take().expect("stdin");
        stdin.write_all(b"short\n").expect("write");
    }
    let output = short.wait_with_output().expect("wait");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("password") && !stderr.contains("short\n"), "{stderr}");

    stdout(&shop.run(&["user", "create", "--email", "b@example.com"]));
    let duplicate = shop.run(&["user", "create", "--email", "B@example.com"]);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("email"));
}

/// Waits until the relay has emptied the outbox and no queue holds a ready or in-flight message.
fn wait_until_idle(shop: &Shop) {
    let started = std::time::Instant::now();
    loop {
        let stats = stdout(&shop.run(&["queue", "stats"]));
        let backlog_empty = stats.lines().any(|line| line.trim() == "outbox backlog: 0");
        let queues_idle = stats
            .lines()
            .skip(1)
            .filter(|line| !line.starts_with("outbox"))
            .all(|line| {
                let columns: Vec<&str> = line.split_whitespace().collect();
                columns.len() >= 4 && columns[1] == "0" && columns[2] == "0" && columns[3] == "0"
            });
        if backlog_empty && queues_idle {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "pipeline did not settle:\n{stats}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[tokio::test]
async fn serve_feeds_the_embedded_read_model_and_sync_verify_finds_no_drift() {
    let shop = Shop::new();
    stdout(&shop.run(&["migrate"]));
    let token = token_from(&stdout(&shop.run(&[
        "user",
        "create",
        "--email",
        "ops@example.com",
        "--api-token",
    ])));
    let mut child = shop
        .command()
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn serve");
    let stdout_pipe = child.stdout.take().expect("stdout");
    let listening = read_listening_lines(&mut BufReader::new(stdout_pipe));
    let base = listening.backend;
    let storefront = listening.storefront;
    let serve = Backend(child);

    let client = reqwest::Client::new();
    let mut price_id = String::new();
    for (kind, attributes) in [
        ("locales", json!({"name": "en_US"})),
        ("currencies", json!({"code": "EUR", "name": "Euro"})),
        (
            "stores",
            json!({"name": "DE", "defaultLocale": "en_US", "defaultCurrency": "EUR"}),
        ),
        (
            "abstract-products",
            json!({"sku": "200", "stores": ["DE"], "localizedAttributes": {"en_US": {"name": "Tripod"}}}),
        ),
        (
            "prices",
            json!({"abstractSku": "200", "store": "DE", "currency": "EUR", "grossAmount": 4999}),
        ),
    ] {
        let response = client
            .post(format!("{base}/admin/{kind}"))
            .bearer_auth(&token)
            .header("content-type", "application/vnd.api+json")
            .body(json!({"data": {"type": kind, "attributes": attributes}}).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 201, "{kind}");
        if kind == "prices" {
            let created: Value = response.json().await.expect("price JSON");
            price_id = created["data"]["id"].as_str().expect("price id").to_owned();
        }
    }
    wait_until_idle(&shop);
    // The write reached the storefront of the same process: KV and search, no SQL on the read path.
    let product_url = format!("{storefront}/abstract-products/200?include=abstract-product-prices");
    let read_product = || async {
        client
            .get(&product_url)
            .header("accept", "application/vnd.api+json")
            .send()
            .await
            .expect("storefront product")
            .json::<Value>()
            .await
            .expect("product JSON")
    };
    let product = read_product().await;
    assert_eq!(product["data"]["attributes"]["name"], "Tripod", "{product}");
    assert_eq!(product["included"][0]["attributes"]["price"], 4999, "{product}");
    // The second read is answered from the response cache; a price change must still show at once.
    assert_eq!(read_product().await, product);
    let changed = client
        .patch(format!("{base}/admin/prices/{price_id}"))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.api+json")
        .body(json!({"data": {"type": "prices", "id": price_id, "attributes": {"grossAmount": 5999}}}).to_string())
        .send()
        .await
        .expect("price change");
    assert_eq!(
        changed.status().as_u16(),
        200,
        "{}",
        changed.text().await.unwrap_or_default()
    );
    let changed_at = std::time::Instant::now();
    loop {
        let product = read_product().await;
        if product["included"][0]["attributes"]["price"] == 5999 {
            break;
        }
        assert!(
            changed_at.elapsed() < std::time::Duration::from_secs(10),
            "the storefront still shows the old price: {product}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("kontor_publish_lag_seconds"), "{metrics}");
    assert!(metrics.contains("kontor_sync_lag_seconds"), "{metrics}");

    // The embedded KV file belongs to the running process; commands that need it say so.
    let busy = shop.run(&["sync", "verify"]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop `kontor serve`"));

    let mut serve = serve;
    let pid = serve.0.id().to_string();
    let terminated = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(terminated.success());
    let exit = serve.0.wait().expect("serve exits");
    assert!(exit.success(), "graceful shutdown on SIGTERM: {exit:?}");

    let verified = stdout(&shop.run(&["sync", "verify"]));
    assert!(verified.lines().any(|line| line == "drift: 0"), "{verified}");
    let published = stdout(&shop.run(&["publish", "--resource", "product_abstract"]));
    assert!(published.contains("product_abstract"), "{published}");
    let synced = stdout(&shop.run(&["sync", "--resource", "product_abstract"]));
    assert!(synced.contains("documents written"), "{synced}");
    let letters = stdout(&shop.run(&["queue", "dead-letters", "publish.product_abstract"]));
    assert!(
        letters.contains("0 dead letter(s) on publish.product_abstract.error"),
        "{letters}"
    );
    let requeued = stdout(&shop.run(&["queue", "requeue", "publish.product_abstract.error"]));
    assert!(requeued.starts_with("0 message(s) moved back"), "{requeued}");
    assert!(!shop.run(&["queue", "requeue", "publish.nothing"]).status.success());
    let unknown = shop.run(&["publish", "--resource", "nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--resource"));
}

#[test]
fn import_loads_a_recipe_and_reports_bad_rows_by_file_and_line() {
    let shop = Shop::new();
    stdout(&shop.run(&["migrate"]));
    let data = shop.dir.join("import");
    let files = [
        ("common/EU/store.csv", "name\nDE\n"),
        (
            "common/common/currency.csv",
            "iso_code,currency_symbol,name\nEUR,€,Euro\n",
        ),
        (
            "common/DE/currency_store.csv",
            "currency_code,store_name,is_default\nEUR,DE,1\n",
        ),
        ("common/DE/locale_store.csv", "locale_name,store_name\nen_US,DE\n"),
        (
            "common/DE/default_locale_store.csv",
            "locale_name,store_name\nen_US,DE\n",
        ),
        (
            "common/common/tax.csv",
            "tax_set_name,country_name,tax_rate_name,tax_rate_percent\nStandard,Germany,DE 19,19\n",
        ),
        (
            "common/common/category.csv",
            "category_key,parent_category_key,name.en_US,is_active,is_root,is_main,node_order\nshop,,Shop,1,1,1,\n",
        ),
        (
            "common/common/product_attribute_key.csv",
            "attribute_key,is_super\ncolor,1\n",
        ),
        (
            "common/common/product_abstract.csv",
            "abstract_sku,name.en_US,description.en_US,attribute_key_1,value_1\n300,Lantern,A lantern.,color,Green\n",
        ),
        (
            "common/DE/product_abstract_store.csv",
            "abstract_sku,store_name\n300,DE\n",
        ),
        (
            "common/common/product_concrete.csv",
            "abstract_sku,concrete_sku,name.en_US,attribute_key_1,value_1\n300,300_green,Lantern,color,Green\n",
        ),
        (
            "common/common/product_image.csv",
            "image_set_name,external_url_large,external_url_small,locale,abstract_sku,concrete_sku,sort_order,product_image_key,product_image_set_key\n\
             default,https://img.example/300-l.jpg,https://img.example/300-s.jpg,,300,,0,img-300,\n",
        ),
    ];
    for (path, content) in files {
        let target = data.join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("dirs");
        std::fs::write(target, content).expect("write");
    }
    let recipe = "version: 0\nactions:\n  - data_entity: store\n    source: common/EU/store.csv\n  - data_entity: currency\n    source: common/common/currency.csv\n  - data_entity: currency-store\n    source: common/DE/currency_store.csv\n  - data_entity: locale-store\n    source: common/DE/locale_store.csv\n  - data_entity: default-locale-store\n    source: common/DE/default_locale_store.csv\n  - data_entity: tax\n    source: common/common/tax.csv\n  - data_entity: category\n    source: common/common/category.csv\n  - data_entity: product-attribute-key\n    source: common/common/product_attribute_key.csv\n  - data_entity: product-abstract\n    source: common/common/product_abstract.csv\n  - data_entity: product-abstract-store\n    source: common/DE/product_abstract_store.csv\n  - data_entity: product-concrete\n    source: common/common/product_concrete.csv\n  - data_entity: product-image\n    source: common/common/product_image.csv\n";
    std::fs::write(data.join("full_EU.yml"), recipe).expect("recipe");
    let recipe_path = data.join("full_EU.yml");
    let imported = stdout(&shop.run(&["import", recipe_path.to_str().expect("utf-8 path")]));
    assert!(
        imported
            .lines()
            .any(|line| line.starts_with("product-abstract ") && line.contains(" 1 ")),
        "{imported}"
    );
    assert!(
        imported
            .lines()
            .any(|line| line.starts_with("product-image ") && line.contains(" 1 ")),
        "{imported}"
    );
    assert!(!imported.contains("not supported yet"), "{imported}");
    let again = stdout(&shop.run(&["import", recipe_path.to_str().expect("utf-8 path")]));
    assert!(
        again.lines().any(|line| line.starts_with("product-abstract ")),
        "{again}"
    );

    let bad = data.join("bad_abstract.csv");
    std::fs::write(&bad, "abstract_sku,name.en_US,tax_set_name\n301,Torch,No Such Tax\n").expect("write");
    let rejected = shop.run(&["import", "product-abstract", bad.to_str().expect("utf-8 path")]);
    assert!(!rejected.status.success());
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(stderr.contains("bad_abstract.csv:2: tax_set_name:"), "{stderr}");

    let published = stdout(&shop.run(&["publish", "--resource", "product_abstract"]));
    assert!(published.contains("product_abstract"), "{published}");
}

/// Runs `kontor demo` until its banner, lets the pipeline settle, stops it with SIGTERM; returns stdout.
fn run_demo_once(shop: &Shop) -> String {
    let mut child = shop
        .command()
        .args(["demo", "--products", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn demo");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut output = String::new();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read demo output");
        assert!(read > 0, "demo ended early:\n{output}");
        output.push_str(&line);
        if line.starts_with("backend listening on") {
            break;
        }
    }
    wait_until_idle(shop);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    assert!(child.wait().expect("demo exits").success());
    output
}

#[test]
fn demo_generates_imports_and_serves_then_reuses_everything() {
    let shop = Shop::new();
    let first = run_demo_once(&shop);
    assert!(first.contains("generating a demo catalog of 30 products"), "{first}");
    assert!(
        first
            .lines()
            .any(|line| line.starts_with("product-abstract ") && line.contains(" 30 ")),
        "{first}"
    );
    let credentials = std::fs::read_to_string(shop.dir.join("var/demo-credentials")).expect("credentials");
    assert!(credentials.contains("api token: kontor_"));
    let verified = stdout(&shop.run(&["sync", "verify"]));
    assert!(verified.lines().any(|line| line == "drift: 0"), "{verified}");
    assert!(
        verified
            .lines()
            .any(|line| line.starts_with("product_abstract") && !line.contains(" 0 checked")),
        "{verified}"
    );

    let second = run_demo_once(&shop);
    assert!(!second.contains("generating"), "{second}");
    assert_eq!(
        std::fs::read_to_string(shop.dir.join("var/demo-credentials")).expect("credentials"),
        credentials
    );
}

/// Starts one role (`backend` or `storefront`) with extra environment and returns it with the URL it
/// printed in its listening line.
fn start_role(shop: &Shop, role: &str, env: &[(&str, &str)]) -> (Backend, String) {
    let mut command = shop.command();
    command.arg(role).stdout(Stdio::piped()).stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn role");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    let url = line
        .trim()
        .strip_prefix(&format!("{role} listening on "))
        .unwrap_or_else(|| panic!("{role} did not print its listening line: {line:?}"))
        .to_owned();
    (Backend(child), url)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

pub(crate) async fn json_api(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url).header("accept", "application/vnd.api+json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/vnd.api+json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_split_storefront_keeps_reading_when_the_backend_stops_and_writes_nothing_half() {
    let shop = Shop::new();
    let catalog = shop.dir.join("catalog");
    stdout(&shop.run(&[
        "generate-catalog",
        "--products",
        "12",
        "--out",
        catalog.to_str().expect("path"),
    ]));
    stdout(&shop.run(&["migrate"]));
    stdout(&shop.run(&["import", catalog.join("full_EU.yml").to_str().expect("path")]));
    stdout(&shop.run(&["publish"]));
    stdout(&shop.run(&["sync"]));

    let secret = "internal-secret-for-the-split-test-0123456789";
    let backend_listen = format!("127.0.0.1:{}", free_port());
    let backend_env = [
        ("KONTOR_BACKEND__LISTEN", backend_listen.as_str()),
        ("KONTOR_INTERNAL__TOKEN", secret),
    ];
    let (backend, backend_url) = start_role(&shop, "backend", &backend_env);
    let (_storefront, api) = start_role(
        &shop,
        "storefront",
        &[
            ("KONTOR_BACKEND__URL", backend_url.as_str()),
            ("KONTOR_INTERNAL__TOKEN", secret),
        ],
    );
    let client = reqwest::Client::new();
    let guest = [("x-anonymous-customer-unique-id", "split-test-guest-1")];

    let (status, search) = json_api(
        &client,
        reqwest::Method::GET,
        &format!("{api}/catalog-search?page[limit]=12"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{search}");
    let skus: Vec<String> = search["data"][0]["attributes"]["abstractProducts"]
        .as_array()
        .expect("products in the search result")
        .iter()
        .filter_map(|product| product["abstractSku"].as_str().map(str::to_owned))
        .collect();
    // The generated images went through import, publish and sync: one locale-independent set each.
    let first = skus.first().expect("a product in the search result");
    let (status, images) = json_api(
        &client,
        reqwest::Method::GET,
        &format!("{api}/abstract-products/{first}/abstract-product-image-sets"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{images}");
    let image_sets = &images["data"][0]["attributes"]["imageSets"];
    assert_eq!(image_sets[0]["name"], "default", "{images}");
    assert_eq!(
        image_sets[0]["images"][0]["externalUrlLarge"],
        format!("/images/{first}.svg"),
        "{images}"
    );
    // The first product with an available variant (the generator makes some unavailable on purpose).
    let mut found = None;
    for abstract_sku in &skus {
        let url =
            format!("{api}/abstract-products/{abstract_sku}?include=concrete-products,concrete-product-availabilities");
        let (status, product) = json_api(&client, reqwest::Method::GET, &url, &[], None).await;
        assert_eq!(status, 200, "{product}");
        let available = product["included"].as_array().and_then(|included| {
            included
                .iter()
                .find(|resource| {
                    resource["type"] == "concrete-product-availabilities"
                        && resource["attributes"]["availability"] == true
                })
                .and_then(|resource| resource["id"].as_str().map(str::to_owned))
        });
        if let Some(concrete_sku) = available {
            found = Some((url, product, concrete_sku));
            break;
        }
    }
    let (product_url, product, concrete_sku) = found.expect("an available variant in the catalog");
    let item = json!({"data": {"type": "guest-cart-items", "attributes": {"sku": concrete_sku, "quantity": 1}}});
    let (status, cart) = json_api(
        &client,
        reqwest::Method::POST,
        &format!("{api}/guest-cart-items"),
        &guest,
        Some(item.clone()),
    )
    .await;
    assert_eq!(status, 201, "{cart}");

    // The backend goes away: catalog reads keep answering, writes are refused whole with a JSON:API 503.
    drop(backend);
    let (status, again) = json_api(&client, reqwest::Method::GET, &product_url, &[], None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["attributes"]["sku"], product["data"]["attributes"]["sku"]);
    let (status, refused) = json_api(
        &client,
        reqwest::Method::POST,
        &format!("{api}/guest-cart-items"),
        &guest,
        Some(item),
    )
    .await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["errors"][0]["status"], 503, "{refused}");
    assert_eq!(refused["errors"][0]["code"], "998", "{refused}");
    let registration = json!({"data": {"type": "customers", "attributes": {
        "salutation": "Ms", "firstName": "Erika", "lastName": "Muster", "email": "erika@example.com",
        "password": "a-long-password-1", "confirmPassword": "a-long-password-1", "acceptedTerms": true}}});
    let (status, refused) = json_api(
        &client,
        reqwest::Method::POST,
        &format!("{api}/customers"),
        &[],
        Some(registration),
    )
    .await;
    assert_eq!(status, 503, "{refused}");

    // Back again: the refused write left no trace, the accepted one is intact.
    let (_backend, _) = start_role(&shop, "backend", &backend_env);
    let (status, carts) = json_api(
        &client,
        reqwest::Method::GET,
        &format!("{api}/guest-carts?include=guest-cart-items"),
        &guest,
        None,
    )
    .await;
    assert_eq!(status, 200, "{carts}");
    let items = carts["included"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{carts}");
    assert_eq!(items[0]["attributes"]["quantity"], 1, "{carts}");
}

/// Finds an available variant through the storefront, as a shopper would.
pub(crate) async fn available_variant(client: &reqwest::Client, api: &str) -> String {
    let (status, search) = json_api(
        client,
        reqwest::Method::GET,
        &format!("{api}/catalog-search?page[limit]=12"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{search}");
    for product in search["data"][0]["attributes"]["abstractProducts"]
        .as_array()
        .expect("products")
    {
        let sku = product["abstractSku"].as_str().expect("sku");
        let url = format!("{api}/abstract-products/{sku}?include=concrete-products,concrete-product-availabilities");
        let (_, product) = json_api(client, reqwest::Method::GET, &url, &[], None).await;
        let available = product["included"].as_array().and_then(|included| {
            included
                .iter()
                .find(|resource| resource["attributes"]["availability"] == true)
                .and_then(|resource| resource["id"].as_str().map(str::to_owned))
        });
        if let Some(concrete) = available {
            return concrete;
        }
    }
    panic!("no available variant in {search}");
}

#[tokio::test]
async fn a_checkout_runs_its_first_oms_steps_in_the_worker_and_the_admin_api_moves_it_on() {
    let shop = Shop::new();
    let catalog = shop.dir.join("catalog");
    stdout(&shop.run(&[
        "generate-catalog",
        "--products",
        "12",
        "--out",
        catalog.to_str().expect("path"),
    ]));
    stdout(&shop.run(&["migrate"]));
    stdout(&shop.run(&["import", catalog.join("full_EU.yml").to_str().expect("path")]));
    let token = token_from(&stdout(&shop.run(&[
        "user",
        "create",
        "--email",
        "ops@example.com",
        "--api-token",
    ])));
    let mut child = shop
        .command()
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn serve");
    let listening = read_listening_lines(&mut BufReader::new(child.stdout.take().expect("stdout")));
    let _serve = Backend(child);
    wait_until_idle(&shop);
    let (api, admin) = (listening.storefront, listening.backend);
    let client = reqwest::Client::new();
    let guest = [("x-anonymous-customer-unique-id", "oms-e2e-guest")];

    let sku = available_variant(&client, &api).await;
    let item = json!({"data": {"type": "guest-cart-items", "attributes": {"sku": sku, "quantity": 1}}});
    let (status, cart) = json_api(
        &client,
        reqwest::Method::POST,
        &format!("{api}/guest-cart-items"),
        &guest,
        Some(item),
    )
    .await;
    assert_eq!(status, 201, "{cart}");
    let cart_id = cart["data"]["id"].as_str().expect("cart").to_owned();
    let (status, data) = json_api(
        &client,
        reqwest::Method::POST,
        &format!("{api}/checkout-data"),
        &guest,
        Some(json!({"data": {"type": "checkout-data", "attributes": {"idCart": cart_id}}})),
    )
    .await;
    assert_eq!(status, 200, "{data}");
    let method: i64 = data["data"]["attributes"]["shipmentMethods"][0]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a shipment method from the generated catalog");
    let address = json!({"salutation": "Ms", "firstName": "Erika", "lastName": "Muster",
                         "address1": "Hauptstraße 5", "zipCode": "10115", "city": "Berlin", "iso2Code": "DE"});
    let checkout = json!({"data": {"type": "checkout", "attributes": {
        "customer": {"email": "erika@example.com", "firstName": "Erika", "lastName": "Muster"},
        "idCart": cart_id, "billingAddress": address,
        "payments": [{"paymentMethodName": "Invoice", "paymentProviderName": "DummyPayment"}],
        "shipments": [{"items": [], "shippingAddress": address, "idShipmentMethod": method}]}}});
    let (status, placed) = json_api(
        &client,
        reqwest::Method::POST,
        &format!("{api}/checkout"),
        &[guest[0], ("idempotency-key", "e2e-1")],
        Some(checkout),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    let reference = placed["data"]["attributes"]["orderReference"]
        .as_str()
        .expect("reference")
        .to_owned();

    // The worker takes the order out of `new` (confirmation mail) without anyone asking.
    let auth = format!("Bearer {token}");
    let order_url = format!("{admin}/admin/orders/{reference}");
    let started = std::time::Instant::now();
    let order = loop {
        let (status, order) = json_api(
            &client,
            reqwest::Method::GET,
            &order_url,
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert_eq!(status, 200, "{order}");
        if order["data"]["attributes"]["items"][0]["state"] == "payment pending" {
            break order;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the worker did not move the order: {order}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        order["data"]["attributes"]["items"][0]["manualEvents"],
        json!(["cancel", "pay"])
    );
    let mails: Vec<String> = std::fs::read_dir(shop.dir.join("var/mail"))
        .expect("mail directory")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    assert!(
        mails
            .iter()
            .any(|mail| mail.contains(&format!("Your order {reference}"))),
        "{mails:?}"
    );

    let (status, paid) = json_api(
        &client,
        reqwest::Method::POST,
        &format!("{order_url}/events"),
        &[("authorization", &auth)],
        Some(json!({"data": {"type": "oms-events", "attributes": {"event": "pay"}}})),
    )
    .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["data"]["attributes"]["items"][0]["state"], "paid");

    // The built-in processes validate and draw from the command line too.
    let validated = stdout(&shop.run(&["oms", "validate"]));
    assert!(
        validated.contains("KontorDefault01: valid (0 warning(s))"),
        "{validated}"
    );
    let dot = stdout(&shop.run(&["oms", "draw", "KontorDefault01", "--format", "dot", "--state", "paid"]));
    assert!(dot.starts_with("digraph"), "{dot}");
    let broken = shop.dir.join("broken.xml");
    std::fs::write(
        &broken,
        "<?xml version=\"1.0\"?>\n<statemachine xmlns=\"spryker:oms-01\">\n  <process name=\"B\" main=\"true\">\n    <states><state name=\"new\"/></states>\n    <transitions>\n      <transition><source>new</source><target>nowhere</target></transition>\n    </transitions>\n  </process>\n</statemachine>\n",
    )
    .expect("write");
    let refused = shop.run(&["oms", "validate", broken.to_str().expect("path")]);
    assert!(!refused.status.success());
    let report = String::from_utf8_lossy(&refused.stdout);
    assert!(
        report.contains("broken.xml:6:") && report.contains("nowhere"),
        "{report}"
    );
}
