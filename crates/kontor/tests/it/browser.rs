//! Browser tests: the HTML storefront and Back Office in Debian's headless Chromium, driven through
//! ChromeDriver (WebDriver) by fantoccini against real `kontor` processes. [`Browser`] owns one
//! chromedriver, one Chromium session and its profile; [`serve`] starts a shop serving both roles.
//! With `KONTOR_SCREENSHOTS=<dir>` (set by `scripts/screenshots`), [`Browser::screenshot`] saves the
//! README's pictures; otherwise it does nothing.

use crate::cli::{Shop, rand_suffix, stdout};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long [`Browser::find`] waits for an element: pages render server-side, so anything longer
/// than this is a missing element, not a slow one.
const FIND_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);

/// Headless Chromium behind its own chromedriver; both (and Chromium's helper processes) are killed
/// and the profile removed on drop, also when the test fails.
pub(crate) struct Browser {
    client: Client,
    /// Declared after the client, so dropped after it: the processes go once the session is let go.
    _driver: Driver,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a Chromium session with a fresh profile.
    pub(crate) async fn start() -> Self {
        for (binary, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            // Failing, not skipping: a browser test that silently passes without a browser hides
            // exactly the regressions it exists for.
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: run scripts/test (it installs them), or \
                 `apt-get install chromium chromium-driver` ({package} provides {binary})"
            );
        }
        let profile = std::env::temp_dir().join(format!("kontor-chromium-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let port = free_port();
        let mut driver = Driver {
            child: Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn chromedriver"),
            profile: profile.clone(),
        };
        let url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&mut driver, &url).await;

        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // Containers and CI run as root, where Chromium's sandbox refuses to start.
                    "--no-sandbox",
                    // /dev/shm is tiny in containers; Chromium would crash on larger pages.
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        // Plain http to the local chromedriver: no TLS connector needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|error| panic!("open a Chromium session through chromedriver at {url}: {error}"));
        Self {
            client,
            _driver: driver,
        }
    }

    /// The fantoccini client, for what the helpers below do not cover.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("open {url}: {error}"));
    }

    /// The first element matching `css`, waiting up to [`FIND_TIMEOUT`] for it to appear.
    pub(crate) async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(FIND_TIMEOUT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!("no element `{css}` ({error}); {}", self.page_context().await),
        }
    }

    pub(crate) async fn click(&self, css: &str) {
        let element = self.find(css).await;
        if let Err(error) = element.click().await {
            panic!("click `{css}`: {error}; {}", self.page_context().await);
        }
    }

    /// Replaces the value of the input matching `css` with `text`, as typed keys.
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        if let Err(error) = element.clear().await {
            panic!("clear `{css}`: {error}; {}", self.page_context().await);
        }
        if let Err(error) = element.send_keys(text).await {
            panic!("type into `{css}`: {error}; {}", self.page_context().await);
        }
    }

    /// The rendered (visible) text of the element matching `css`.
    pub(crate) async fn text_of(&self, css: &str) -> String {
        let element = self.find(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(error) => panic!("text of `{css}`: {error}; {}", self.page_context().await),
        }
    }

    /// Polls until the element matching `css` shows `needle` in its visible text, for pages that
    /// change after a click or a form post; returns that text.
    pub(crate) async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let started = Instant::now();
        loop {
            // Looked up afresh each time: a navigation replaces the element.
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && text.contains(needle)
            {
                return text;
            }
            if started.elapsed() >= timeout {
                panic!(
                    "`{css}` did not show {needle:?} within {timeout:?}; {}",
                    self.page_context().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls until the current URL ends with `suffix`: a click on a submit button may return before the
    /// browser has followed the form post's redirect. Returns the URL, or `None` after `timeout`.
    pub(crate) async fn wait_for_url_ending(&self, suffix: &str, timeout: Duration) -> Option<String> {
        let started = Instant::now();
        loop {
            if let Ok(url) = self.client.current_url().await
                && url.as_str().ends_with(suffix)
            {
                return Some(url.to_string());
            }
            if started.elapsed() >= timeout {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves the viewport as `<dir>/<name>.png` when `KONTOR_SCREENSHOTS=<dir>` is set.
    pub(crate) async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("KONTOR_SCREENSHOTS").filter(|dir| !dir.is_empty()) else {
            return;
        };
        let dir = PathBuf::from(dir);
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(error) => panic!("screenshot {name}: {error}; {}", self.page_context().await),
        };
        std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("create {}: {error}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }

    /// Ends the session the polite way (Chromium exits on its own); drop does the rest.
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Where the browser is and the start of what it shows, for failure messages.
    async fn page_context(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .map_or_else(|error| format!("<no URL: {error}>"), |url| url.to_string());
        let body = self
            .client
            .execute("return document.body ? document.body.innerText : '';", Vec::new())
            .await
            .ok()
            .and_then(|text| text.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut snippet: String = body.chars().take(600).collect();
        if snippet.len() < body.len() {
            snippet.push('…');
        }
        format!("page {url} shows:\n{snippet}")
    }
}

/// The chromedriver process and the profile of the Chromium it starts. Chromium runs as its child
/// (with helper processes below it), and a killed chromedriver leaves them running, so on drop the
/// whole tree goes, then the profile.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The tree is listed before anything is killed: orphans are re-parented and could not be
        // found afterwards.
        let mut pids = vec![self.child.id()];
        let mut index = 0;
        while index < pids.len() {
            let parent = pids[index];
            pids.extend(children_of(parent));
            index += 1;
        }
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Processes whose parent is `parent`, from `/proc/<pid>/stat`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so parse after the last `)`.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = stat.get(stat.rfind(')')? + 1..)?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Waits until chromedriver answers `/status` as ready; fails early when it exited.
async fn wait_until_ready(driver: &mut Driver, url: &str) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = driver.child.try_wait() {
            panic!("chromedriver exited before it answered: {status}");
        }
        if let Ok(response) = client.get(format!("{url}/status")).send().await
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == true
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "chromedriver did not answer on {url} within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A running `kontor serve`: both roles in one process, killed on drop.
pub(crate) struct Served {
    child: Child,
    /// The Back Office's origin, e.g. `http://127.0.0.1:40001`.
    pub(crate) backend: String,
    /// The storefront's origin (no path): its JSON API is under `{storefront}/api`.
    pub(crate) storefront: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Migrates the shop's SQLite file and starts `kontor serve` on it (the embedded default: one
/// process, no external services), returning both base URLs from its listening lines.
pub(crate) fn serve(shop: &Shop) -> Served {
    stdout(&shop.run(&["migrate"]));
    let mut child = shop
        .command()
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn serve");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut served = Served {
        child,
        backend: String::new(),
        storefront: String::new(),
    };
    // The roles start concurrently and print their lines in any order.
    while served.backend.is_empty() || served.storefront.is_empty() {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read the listening lines");
        assert!(read > 0, "serve ended before it listened");
        if let Some(rest) = line.trim().strip_prefix("backend listening on ") {
            served.backend = origin(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("storefront listening on ") {
            served.storefront = origin(rest);
        }
    }
    served
}

/// The origin of the first URL in a listening line: the storefront's has named the JSON API alone
/// (`http://…/api`) and the shop and the API (`http://…/ (shop) and http://…/api`).
fn origin(listening: &str) -> String {
    let url = listening.split_whitespace().next().unwrap_or_default();
    let url = url.trim_end_matches('/');
    url.strip_suffix("/api").unwrap_or(url).to_owned()
}

#[tokio::test]
async fn smoke_opens_a_served_page() {
    let shop = Shop::new();
    let served = serve(&shop);
    let browser = Browser::start().await;

    browser.goto(&format!("{}/health", served.backend)).await;
    let health = browser.text_of("body").await;
    assert!(health.contains(r#""status":"ok""#), "{health}");

    browser.goto(&format!("{}/api/docs", served.storefront)).await;
    let heading = browser
        .wait_for_text("h1", "Kontor storefront API", Duration::from_secs(5))
        .await;
    assert_eq!(heading, "Kontor storefront API");
    assert!(browser.text_of("table").await.contains("/api/catalog-search"));
    browser.screenshot("api-docs").await;
    browser.click("a[href='openapi.json']").await;
    browser
        .wait_for_text("body", r#""openapi""#, Duration::from_secs(5))
        .await;

    // The form helpers, on a page of the test's own: the shop's forms are still being written.
    browser
        .goto(
            "data:text/html,<input id=q value=old><output id=o></output>\
               <script>q.oninput=()=>o.textContent=q.value</script>",
        )
        .await;
    browser.fill("#q", "Tripod").await;
    assert_eq!(browser.text_of("#o").await, "Tripod");
    assert!(browser.client().current_url().await.is_ok());
    browser.close().await;
}
