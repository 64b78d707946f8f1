//! A deterministic synthetic catalog in the importer's CSV layout (`kontor generate-catalog`).
//!
//! [`generate`] writes a complete shop under `out` — stores, currencies, locales, glossary, tax, a
//! 3-level category tree (4 × 4 × 4 leaves under one root), attribute keys (`color` and `size` are super
//! attributes), abstract products with 1–5 concretes that differ in colour and size, prices per store and
//! currency (about a fifth with an `ORIGINAL` price), stock in two warehouses, shipment methods with prices
//! per store and currency and payment methods, both offered in every store, one SVG placeholder image per
//! abstract under `images/` and `product_image.csv` (one keyed set per abstract, for every locale) — plus the
//! recipe `full_EU.yml`, whose last step `product-image` imports those sets.
//!
//! The same [`CatalogSpec`] always gives byte-identical files: every random choice comes from one
//! splitmix64 stream seeded with `seed`, and rows are streamed in a fixed order through buffered CSV
//! writers, so memory stays constant whatever the number of products.

use kontor_core::{LocaleName, StoreName};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSpec {
    /// Number of abstract products.
    pub products: usize,
    pub seed: u64,
    /// Store codes (`DE`, `AT`, `CH`); the first two letters name the store's country.
    pub stores: Vec<String>,
    /// Locales (`de_DE`, `en_US`); every store gets all of them.
    pub locales: Vec<String>,
}

impl CatalogSpec {
    /// `products` abstracts with the default seed, stores and locales.
    pub fn new(products: usize) -> Self {
        Self {
            products,
            ..Self::default()
        }
    }
}

impl Default for CatalogSpec {
    fn default() -> Self {
        Self {
            products: 100,
            seed: 1,
            stores: vec!["DE".to_owned(), "AT".to_owned()],
            locales: vec!["de_DE".to_owned(), "en_US".to_owned()],
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCatalog {
    /// `<out>/full_EU.yml`.
    pub recipe: PathBuf,
    pub abstracts: usize,
    pub concretes: usize,
    /// All categories, root included.
    pub categories: usize,
    pub leaf_categories: usize,
    pub attribute_keys: usize,
    /// Rows of all `product_price.csv` files.
    pub prices: usize,
    /// Rows of `product_stock.csv` (every concrete in both warehouses).
    pub stock_rows: usize,
    /// Image files under `<out>/images/` (one per abstract), also the rows of `product_image.csv`.
    pub images: usize,
    /// Rows of `product_review.csv` (about a fifth of the products get 1–3 reviews, most approved).
    pub reviews: usize,
    /// Every file written, in writing order (images excluded).
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("invalid catalog spec: {0}")]
    InvalidSpec(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

// ------------------------------------------------------------------------------------------ words

/// (key, English, German).
type Word = (&'static str, &'static str, &'static str);

const DEPARTMENTS: [Word; 4] = [
    ("clothing", "Clothing", "Bekleidung"),
    ("footwear", "Footwear", "Schuhe"),
    ("outdoor", "Outdoor", "Outdoor"),
    ("home", "Home", "Wohnen"),
];

/// (key, English plural, German plural, English singular, German singular).
type Group = (&'static str, &'static str, &'static str, &'static str, &'static str);

/// Four groups per department.
const GROUPS: [[Group; 4]; 4] = [
    [
        ("jackets", "Jackets", "Jacken", "Jacket", "Jacke"),
        ("shirts", "Shirts", "Hemden", "Shirt", "Hemd"),
        ("trousers", "Trousers", "Hosen", "Trousers", "Hose"),
        ("sweaters", "Sweaters", "Pullover", "Sweater", "Pullover"),
    ],
    [
        ("boots", "Boots", "Stiefel", "Boot", "Stiefel"),
        ("sneakers", "Sneakers", "Sneaker", "Sneaker", "Sneaker"),
        ("sandals", "Sandals", "Sandalen", "Sandal", "Sandale"),
        ("slippers", "Slippers", "Hausschuhe", "Slipper", "Hausschuh"),
    ],
    [
        ("backpacks", "Backpacks", "Rucksäcke", "Backpack", "Rucksack"),
        ("tents", "Tents", "Zelte", "Tent", "Zelt"),
        (
            "sleeping-bags",
            "Sleeping Bags",
            "Schlafsäcke",
            "Sleeping Bag",
            "Schlafsack",
        ),
        ("bottles", "Bottles", "Trinkflaschen", "Bottle", "Trinkflasche"),
    ],
    [
        ("blankets", "Blankets", "Decken", "Blanket", "Decke"),
        ("cushions", "Cushions", "Kissen", "Cushion", "Kissen"),
        ("towels", "Towels", "Handtücher", "Towel", "Handtuch"),
        ("lamps", "Lamps", "Leuchten", "Lamp", "Leuchte"),
    ],
];

const LINES: [Word; 4] = [
    ("essentials", "Essentials", "Basics"),
    ("premium", "Premium", "Premium"),
    ("kids", "Kids", "Kinder"),
    ("eco", "Eco", "Öko"),
];

const BRANDS: [&str; 12] = [
    "Fjell", "Havn", "Tarn", "Moor", "Brisa", "Kestrel", "Lumen", "Norda", "Solvik", "Alba", "Vento", "Ridge",
];

const SERIES: [&str; 10] = [
    "Summit", "Trail", "Urban", "Nordic", "Classic", "Breeze", "Harbor", "Aurora", "Pioneer", "Drift",
];

/// English word before the noun, German prefix of a compound (`Regen` + `jacke`).
const PREFIXES: [(&str, &str); 8] = [
    ("Rain", "Regen"),
    ("Light", "Leicht"),
    ("Thermal", "Thermo"),
    ("Travel", "Reise"),
    ("Comfort", "Komfort"),
    ("Sport", "Sport"),
    ("Winter", "Winter"),
    ("Summer", "Sommer"),
];

const MATERIALS: [(&str, &str); 8] = [
    ("Cotton", "Baumwolle"),
    ("Merino wool", "Merinowolle"),
    ("Polyester", "Polyester"),
    ("Linen", "Leinen"),
    ("Recycled nylon", "Recyceltes Nylon"),
    ("Leather", "Leder"),
    ("Bamboo", "Bambus"),
    ("Down", "Daune"),
];

const FEATURES: [(&str, &str); 8] = [
    (
        "Built for everyday use and easy to care for.",
        "Für den Alltag gemacht und pflegeleicht.",
    ),
    (
        "Light enough for long trips, tough enough for bad weather.",
        "Leicht genug für lange Reisen, robust genug für schlechtes Wetter.",
    ),
    (
        "Made in a small series with a two-year guarantee.",
        "In kleiner Serie gefertigt, mit zwei Jahren Garantie.",
    ),
    (
        "Breathable, quick to dry and gentle on the skin.",
        "Atmungsaktiv, schnell trocknend und hautfreundlich.",
    ),
    (
        "A timeless design that goes with everything.",
        "Ein zeitloses Design, das zu allem passt.",
    ),
    (
        "Packs small and fits into any bag.",
        "Lässt sich klein verstauen und passt in jede Tasche.",
    ),
    (
        "Certified for fair production and low emissions.",
        "Zertifiziert für faire Herstellung und geringe Emissionen.",
    ),
    (
        "Warm when it is cold, cool when it is warm.",
        "Wärmt, wenn es kalt ist, und kühlt, wenn es warm ist.",
    ),
];

/// (SKU part, English, German, colour code).
const COLORS: [(&str, &str, &str, &str); 8] = [
    ("black", "Black", "Schwarz", "#1B1B1B"),
    ("white", "White", "Weiß", "#E8E8E8"),
    ("red", "Red", "Rot", "#C0392B"),
    ("blue", "Blue", "Blau", "#1E4DA1"),
    ("green", "Green", "Grün", "#2E7D32"),
    ("grey", "Grey", "Grau", "#7A7A7A"),
    ("navy", "Navy", "Marine", "#1F2A44"),
    ("yellow", "Yellow", "Gelb", "#F4C542"),
];

const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];

/// (attribute key, is_super).
const ATTRIBUTE_KEYS: [(&str, bool); 5] = [
    ("color", true),
    ("size", true),
    ("brand", false),
    ("material", false),
    ("weight", false),
];

const WAREHOUSES: [&str; 2] = ["Warehouse 1", "Warehouse 2"];

/// Shipment methods: (key, name, gross price in minor units of every store currency).
const SHIPMENT_METHODS: [(&str, &str, u64); 2] = [("kt_standard", "Standard", 490), ("kt_express", "Express", 1290)];

const CARRIER: &str = "Kontor Post";

/// Payment methods: (key, name, provider key, provider name).
const PAYMENT_METHODS: [(&str, &str, &str, &str); 3] = [
    ("kt-invoice", "Invoice", "DummyPayment", "Dummy Payment"),
    ("kt-card", "Credit Card", "DummyPayment", "Dummy Payment"),
    ("kt-prepayment", "Prepayment", "Kontor", "Kontor"),
];

const TAX_SET: &str = "Standard";

/// (country code, English name, standard VAT rate).
const COUNTRIES: [(&str, &str, &str); 12] = [
    ("DE", "Germany", "19"),
    ("AT", "Austria", "20"),
    ("CH", "Switzerland", "8.1"),
    ("FR", "France", "20"),
    ("NL", "Netherlands", "21"),
    ("BE", "Belgium", "21"),
    ("IT", "Italy", "22"),
    ("ES", "Spain", "21"),
    ("PL", "Poland", "23"),
    ("SE", "Sweden", "25"),
    ("DK", "Denmark", "25"),
    ("US", "United States", "0"),
];

const GLOSSARY: [(&str, &str, &str); 16] = [
    ("catalog.generated.title", "Kontor demo catalog", "Kontor-Demokatalog"),
    ("cart.title", "Cart", "Warenkorb"),
    ("cart.item.added", "Added to your cart", "Zum Warenkorb hinzugefügt"),
    ("product.in_stock", "In stock", "Auf Lager"),
    // What customers read for the states of the default process (KontorDefault01 with its
    // KontorReturn subprocess): `oms.state.<state name, spaces as ->`.
    ("oms.state.new", "Received", "Eingegangen"),
    ("oms.state.payment-pending", "Awaiting payment", "Zahlung ausstehend"),
    ("oms.state.paid", "Paid", "Bezahlt"),
    ("oms.state.picked", "Ready for shipping", "Versandbereit"),
    ("oms.state.shipped", "Shipped", "Versendet"),
    ("oms.state.delivered", "Delivered", "Zugestellt"),
    ("oms.state.closed", "Completed", "Abgeschlossen"),
    // Cancelled already; only the mail to the customer is still on its way.
    ("oms.state.payment-cancelled", "Cancelled", "Storniert"),
    ("oms.state.cancelled", "Cancelled", "Storniert"),
    (
        "oms.state.return-requested",
        "Return requested",
        "Rücksendung angemeldet",
    ),
    ("oms.state.returned", "Returned", "Rücksendung erhalten"),
    ("oms.state.refunded", "Refunded", "Erstattet"),
];

// ------------------------------------------------------------------------------------------ locale texts

/// How one locale renders texts: German words for `de_*`, English otherwise; every locale but `de_DE`
/// and `en_US` gets ` [xx_YY]` appended, so texts (and URLs) stay distinct per locale.
struct Locale {
    name: String,
    german: bool,
    lang: String,
    suffix: String,
}

impl Locale {
    fn new(name: &str) -> Self {
        let lang = name[..2].to_owned();
        let suffix = if name == "de_DE" || name == "en_US" {
            String::new()
        } else {
            format!(" [{name}]")
        };
        Self {
            name: name.to_owned(),
            german: lang == "de",
            lang,
            suffix,
        }
    }

    fn pick<'a>(&self, english: &'a str, german: &'a str) -> &'a str {
        if self.german { german } else { english }
    }

    fn text(&self, english: &str, german: &str) -> String {
        format!("{}{}", self.pick(english, german), self.suffix)
    }
}

/// Lower-case ASCII letters and digits joined by `-`, German umlauts transliterated.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dash = false;
    for ch in text.chars().flat_map(char::to_lowercase) {
        let mapped = match ch {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            c if c.is_ascii_alphanumeric() => {
                if dash && !out.is_empty() {
                    out.push('-');
                }
                dash = false;
                out.push(c);
                continue;
            }
            _ => {
                dash = true;
                continue;
            }
        };
        if dash && !out.is_empty() {
            out.push('-');
        }
        dash = false;
        out.push_str(mapped);
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// ------------------------------------------------------------------------------------------ randomness

/// splitmix64: small, fast and stable across platforms and releases.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below((high - low + 1) as usize) as u64
    }

    fn percent(&mut self, chance: usize) -> bool {
        self.below(100) < chance
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ------------------------------------------------------------------------------------------ writing

struct CsvFile {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    rows: usize,
}

impl CsvFile {
    fn create(out: &Path, relative: &str, header: &[String]) -> Result<Self, GenerateError> {
        let path = out.join(relative);
        let file = create_file(&path)?;
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(BufWriter::with_capacity(64 * 1024, file));
        let mut created = Self { path, writer, rows: 0 };
        created.row(header)?;
        created.rows = 0;
        Ok(created)
    }

    fn row<I, T>(&mut self, fields: I) -> Result<(), GenerateError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.rows += 1;
        self.writer.write_record(fields).map_err(|source| GenerateError::Csv {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes to disk; returns the path and the number of data rows.
    fn finish(self, files: &mut Vec<PathBuf>) -> Result<usize, GenerateError> {
        let path = self.path;
        let buffered = self.writer.into_inner().map_err(|error| GenerateError::Io {
            path: path.clone(),
            source: std::io::Error::other(error.to_string()),
        })?;
        buffered.into_inner().map_err(|error| GenerateError::Io {
            path: path.clone(),
            source: error.into_error(),
        })?;
        files.push(path);
        Ok(self.rows)
    }
}

fn create_file(path: &Path) -> Result<File, GenerateError> {
    let io = |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    File::create(path).map_err(io)
}

fn header(fixed: &[&str]) -> Vec<String> {
    fixed.iter().map(|column| (*column).to_owned()).collect()
}

/// One store and what it derives from its code.
struct Store {
    code: String,
    country: String,
    currency: &'static str,
    /// Tax rate in basis points, for net prices.
    rate_bp: u64,
    default_locale: String,
}

fn country_of(code: &str) -> Option<(&'static str, &'static str)> {
    COUNTRIES
        .iter()
        .find(|(iso, _, _)| *iso == code)
        .map(|(_, name, rate)| (*name, *rate))
}

fn basis_points(rate: &str) -> u64 {
    let (whole, fraction) = rate.split_once('.').unwrap_or((rate, ""));
    let whole: u64 = whole.parse().unwrap_or(0);
    let fraction: u64 = format!("{fraction:0<2}").parse().unwrap_or(0);
    whole * 100 + fraction
}

fn stores_of(spec: &CatalogSpec) -> Result<Vec<Store>, GenerateError> {
    if spec.stores.is_empty() {
        return Err(GenerateError::InvalidSpec("at least one store is needed".to_owned()));
    }
    if spec.locales.is_empty() {
        return Err(GenerateError::InvalidSpec("at least one locale is needed".to_owned()));
    }
    for (at, locale) in spec.locales.iter().enumerate() {
        LocaleName::parse(locale)
            .map_err(|error| GenerateError::InvalidSpec(format!("locale {locale:?}: {}", error.0)))?;
        if spec.locales[..at].contains(locale) {
            return Err(GenerateError::InvalidSpec(format!("locale {locale} is given twice")));
        }
    }
    let mut stores = Vec::with_capacity(spec.stores.len());
    for (at, code) in spec.stores.iter().enumerate() {
        StoreName::parse(code).map_err(|error| GenerateError::InvalidSpec(format!("store {code:?}: {}", error.0)))?;
        if spec.stores[..at].contains(code) {
            return Err(GenerateError::InvalidSpec(format!("store {code} is given twice")));
        }
        let country: String = code.chars().take(2).collect::<String>().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Err(GenerateError::InvalidSpec(format!(
                "store {code}: its first two letters must name a country"
            )));
        }
        let rate = country_of(&country).map_or("20", |(_, rate)| rate);
        let language = match country.as_str() {
            "DE" | "AT" | "CH" | "LI" | "LU" => "de",
            "FR" | "BE" => "fr",
            "NL" => "nl",
            "IT" => "it",
            "ES" => "es",
            "PL" => "pl",
            _ => "en",
        };
        let default_locale = spec
            .locales
            .iter()
            .find(|locale| locale.ends_with(&format!("_{country}")))
            .or_else(|| spec.locales.iter().find(|locale| locale.starts_with(language)))
            .unwrap_or(&spec.locales[0])
            .clone();
        stores.push(Store {
            code: code.clone(),
            currency: if country == "CH" { "CHF" } else { "EUR" },
            rate_bp: basis_points(rate),
            country,
            default_locale,
        });
    }
    Ok(stores)
}

/// Rounds a price in cents to end in `…90` (at least 90 cents).
fn charm(cents: u64) -> u64 {
    (cents / 100).max(1) * 100 - 10
}

fn net_of(gross: u64, rate_bp: u64) -> u64 {
    (gross * 10_000 + (10_000 + rate_bp) / 2) / (10_000 + rate_bp)
}

/// Shipment and payment methods, offered in every store: `shipment.csv` (Spryker's `taxSetName` header,
/// the catalog's tax set), per store `shipment_method_store.csv` and `shipment_price.csv` (gross and net in
/// the store's currency, net from the store's tax rate), `payment_method.csv` and per store
/// `payment_method_store.csv`.
fn write_checkout_methods(out: &Path, stores: &[Store], files: &mut Vec<PathBuf>) -> Result<(), GenerateError> {
    let mut file = CsvFile::create(
        out,
        "common/common/shipment.csv",
        &header(&["shipment_method_key", "name", "carrier", "taxSetName"]),
    )?;
    for (key, name, _) in SHIPMENT_METHODS {
        file.row([key, name, CARRIER, TAX_SET])?;
    }
    file.finish(files)?;
    for store in stores {
        let mut file = CsvFile::create(
            out,
            &format!("common/{}/shipment_method_store.csv", store.code),
            &header(&["shipment_method_key", "store"]),
        )?;
        for (key, _, _) in SHIPMENT_METHODS {
            file.row([key, store.code.as_str()])?;
        }
        file.finish(files)?;
        let mut file = CsvFile::create(
            out,
            &format!("common/{}/shipment_price.csv", store.code),
            &header(&["shipment_method_key", "store", "currency", "value_net", "value_gross"]),
        )?;
        for (key, _, gross) in SHIPMENT_METHODS {
            file.row([
                key,
                store.code.as_str(),
                store.currency,
                &net_of(gross, store.rate_bp).to_string(),
                &gross.to_string(),
            ])?;
        }
        file.finish(files)?;
    }

    let mut file = CsvFile::create(
        out,
        "common/common/payment_method.csv",
        &header(&[
            "payment_method_key",
            "payment_method_name",
            "payment_provider_key",
            "payment_provider_name",
            "is_active",
        ]),
    )?;
    for (key, name, provider_key, provider_name) in PAYMENT_METHODS {
        file.row([key, name, provider_key, provider_name, "1"])?;
    }
    file.finish(files)?;
    for store in stores {
        let mut file = CsvFile::create(
            out,
            &format!("common/{}/payment_method_store.csv", store.code),
            &header(&["payment_method_key", "store"]),
        )?;
        for (key, ..) in PAYMENT_METHODS {
            file.row([key, store.code.as_str()])?;
        }
        file.finish(files)?;
    }
    Ok(())
}

/// Writes the catalog described by `spec` under `out` (created if missing; existing files of the same
/// names are overwritten) and returns what was written.
pub fn generate(spec: &CatalogSpec, out: &Path) -> Result<GeneratedCatalog, GenerateError> {
    let stores = stores_of(spec)?;
    let locales: Vec<Locale> = spec.locales.iter().map(|name| Locale::new(name)).collect();
    let mut files = Vec::new();
    let mut rng = Rng(spec.seed);
    let store_list = spec.stores.join(",");

    // Stores, currencies, locales, glossary, tax.
    let mut file = CsvFile::create(out, "common/EU/store.csv", &header(&["name"]))?;
    for store in &stores {
        file.row([store.code.as_str()])?;
    }
    file.finish(&mut files)?;

    let mut currencies: Vec<&str> = Vec::new();
    for store in &stores {
        if !currencies.contains(&store.currency) {
            currencies.push(store.currency);
        }
    }
    let mut file = CsvFile::create(
        out,
        "common/common/currency.csv",
        &header(&["iso_code", "currency_symbol", "name"]),
    )?;
    for currency in &currencies {
        match *currency {
            "CHF" => file.row(["CHF", "CHF", "Swiss Franc"])?,
            _ => file.row(["EUR", "€", "Euro"])?,
        }
    }
    file.finish(&mut files)?;

    for store in &stores {
        let mut file = CsvFile::create(
            out,
            &format!("common/{}/currency_store.csv", store.code),
            &header(&["currency_code", "store_name", "is_default"]),
        )?;
        file.row([store.currency, store.code.as_str(), "1"])?;
        file.finish(&mut files)?;
        let mut file = CsvFile::create(
            out,
            &format!("common/{}/locale_store.csv", store.code),
            &header(&["locale_name", "store_name"]),
        )?;
        for locale in &spec.locales {
            file.row([locale.as_str(), store.code.as_str()])?;
        }
        file.finish(&mut files)?;
        let mut file = CsvFile::create(
            out,
            &format!("common/{}/default_locale_store.csv", store.code),
            &header(&["locale_name", "store_name"]),
        )?;
        file.row([store.default_locale.as_str(), store.code.as_str()])?;
        file.finish(&mut files)?;
    }

    let mut file = CsvFile::create(
        out,
        "common/common/glossary.csv",
        &header(&["key", "translation", "locale"]),
    )?;
    for (key, english, german) in GLOSSARY {
        for locale in &locales {
            file.row([key, locale.text(english, german).as_str(), locale.name.as_str()])?;
        }
    }
    file.finish(&mut files)?;

    let mut file = CsvFile::create(
        out,
        "common/common/tax.csv",
        &header(&["tax_set_name", "country_name", "tax_rate_name", "tax_rate_percent"]),
    )?;
    let mut countries: Vec<&str> = Vec::new();
    for store in &stores {
        if countries.contains(&store.country.as_str()) {
            continue;
        }
        countries.push(&store.country);
        let (name, rate) = country_of(&store.country).unwrap_or((store.country.as_str(), "20"));
        file.row([TAX_SET, name, &format!("{} Standard", store.country), rate])?;
    }
    file.finish(&mut files)?;

    // Categories: root, 4 departments × 4 groups × 4 lines.
    let mut columns = header(&["category_key", "parent_category_key"]);
    for field in ["name", "meta_title", "meta_description"] {
        for locale in &locales {
            columns.push(format!("{field}.{}", locale.name));
        }
    }
    columns.extend(header(&[
        "is_active",
        "is_in_menu",
        "is_clickable",
        "is_searchable",
        "is_root",
        "is_main",
        "node_order",
        "template_name",
    ]));
    let mut file = CsvFile::create(out, "common/common/category.csv", &columns)?;
    let category_row = |file: &mut CsvFile,
                        key: &str,
                        parent: &str,
                        english: &str,
                        german: &str,
                        order: usize|
     -> Result<(), GenerateError> {
        let mut row = vec![key.to_owned(), parent.to_owned()];
        for locale in &locales {
            row.push(locale.text(english, german));
        }
        for locale in &locales {
            row.push(locale.text(english, german));
        }
        for locale in &locales {
            row.push(locale.text(
                &format!("All products in {english}"),
                &format!("Alle Produkte in {german}"),
            ));
        }
        let is_root = if parent.is_empty() { "1" } else { "0" };
        let order = if parent.is_empty() {
            String::new()
        } else {
            order.to_string()
        };
        row.extend(
            ["1", "1", "1", if parent.is_empty() { "0" } else { "1" }, is_root, "1"]
                .into_iter()
                .map(str::to_owned),
        );
        row.push(order);
        row.push("Catalog (default)".to_owned());
        file.row(&row)
    };
    let root = "kontor-shop";
    category_row(&mut file, root, "", "Kontor Shop", "Kontor Shop", 0)?;
    let mut leaves = Vec::with_capacity(64);
    for (d, (department, english, german)) in DEPARTMENTS.iter().enumerate() {
        category_row(&mut file, department, root, english, german, 100 - d * 10)?;
        for (g, (group, english, german, _, _)) in GROUPS[d].iter().enumerate() {
            let group_key = format!("{department}-{group}");
            category_row(&mut file, &group_key, department, english, german, 100 - g * 10)?;
            for (l, (line, line_en, line_de)) in LINES.iter().enumerate() {
                let key = format!("{group_key}-{line}");
                category_row(
                    &mut file,
                    &key,
                    &group_key,
                    &format!("{line_en} {english}"),
                    &format!("{line_de}-{german}"),
                    100 - l * 10,
                )?;
                leaves.push((key, d, g));
            }
        }
    }
    let categories = file.finish(&mut files)?;

    let mut file = CsvFile::create(
        out,
        &format!("common/{}/category_store.csv", stores[0].code),
        &header(&["category_key", "included_store_names", "excluded_store_names"]),
    )?;
    file.row([root, store_list.as_str(), ""])?;
    for (department, _, _) in DEPARTMENTS {
        file.row([department, store_list.as_str(), ""])?;
    }
    for (d, (department, _, _)) in DEPARTMENTS.iter().enumerate() {
        for (group, ..) in GROUPS[d] {
            file.row([format!("{department}-{group}").as_str(), store_list.as_str(), ""])?;
        }
    }
    for (key, _, _) in &leaves {
        file.row([key.as_str(), store_list.as_str(), ""])?;
    }
    file.finish(&mut files)?;

    let mut file = CsvFile::create(
        out,
        "common/common/product_attribute_key.csv",
        &header(&["attribute_key", "is_super"]),
    )?;
    for (key, is_super) in ATTRIBUTE_KEYS {
        file.row([key, if is_super { "1" } else { "0" }])?;
    }
    let attribute_keys = file.finish(&mut files)?;

    // Products: all product files are streamed together, one abstract at a time.
    let mut columns = header(&["category_key", "category_product_order", "abstract_sku"]);
    for field in ["name", "url"] {
        for locale in &locales {
            columns.push(format!("{field}.{}", locale.name));
        }
    }
    columns.extend(header(&[
        "attribute_key_1",
        "value_1",
        "attribute_key_2",
        "value_2",
        "attribute_key_3",
        "value_3",
    ]));
    for locale in &locales {
        columns.push(format!("attribute_key_2.{}", locale.name));
        columns.push(format!("value_2.{}", locale.name));
    }
    columns.push("color_code".to_owned());
    for field in ["description", "meta_title", "meta_keywords", "meta_description"] {
        for locale in &locales {
            columns.push(format!("{field}.{}", locale.name));
        }
    }
    columns.push("tax_set_name".to_owned());
    let mut abstracts = CsvFile::create(out, "common/common/product_abstract.csv", &columns)?;

    let mut abstract_stores = Vec::with_capacity(stores.len());
    let mut prices = Vec::with_capacity(stores.len());
    for store in &stores {
        abstract_stores.push(CsvFile::create(
            out,
            &format!("common/{}/product_abstract_store.csv", store.code),
            &header(&["abstract_sku", "store_name"]),
        )?);
        prices.push(CsvFile::create(
            out,
            &format!("common/{}/product_price.csv", store.code),
            &header(&[
                "abstract_sku",
                "concrete_sku",
                "price_type",
                "store",
                "currency",
                "value_net",
                "value_gross",
                "price_data.volume_prices",
            ]),
        )?);
    }

    let mut columns = header(&["abstract_sku", "concrete_sku"]);
    for locale in &locales {
        columns.push(format!("name.{}", locale.name));
    }
    columns.extend(header(&["attribute_key_1", "value_1", "attribute_key_2", "value_2"]));
    for locale in &locales {
        columns.push(format!("attribute_key_1.{}", locale.name));
        columns.push(format!("value_1.{}", locale.name));
    }
    for field in ["description", "is_searchable"] {
        for locale in &locales {
            columns.push(format!("{field}.{}", locale.name));
        }
    }
    columns.push("bundled".to_owned());
    let mut concretes = CsvFile::create(out, "common/common/product_concrete.csv", &columns)?;

    let mut stock = CsvFile::create(
        out,
        "common/common/product_stock.csv",
        &header(&["concrete_sku", "name", "quantity", "is_never_out_of_stock", "is_bundle"]),
    )?;

    let mut columns = header(&[
        "image_set_name",
        "external_url_large",
        "external_url_small",
        "locale",
        "abstract_sku",
        "concrete_sku",
        "sort_order",
        "product_image_key",
        "product_image_set_key",
    ]);
    for field in ["alt_text_small", "alt_text_large"] {
        for locale in &locales {
            columns.push(format!("{field}.{}", locale.name));
        }
    }
    let mut images = CsvFile::create(out, "common/common/product_image.csv", &columns)?;
    let image_dir = out.join("images");
    std::fs::create_dir_all(&image_dir).map_err(|source| GenerateError::Io {
        path: image_dir.clone(),
        source,
    })?;

    let mut row: Vec<String> = Vec::new();
    let mut svg = String::new();
    for index in 0..spec.products {
        let sku = (100_000 + index).to_string();
        let (leaf, d, g) = &leaves[rng.below(leaves.len())];
        let (_, _, _, noun_en, noun_de) = GROUPS[*d][*g];
        let brand = rng.pick(&BRANDS);
        let series = rng.pick(&SERIES);
        let (prefix_en, prefix_de) = rng.pick(&PREFIXES);
        let (material_en, material_de) = rng.pick(&MATERIALS);
        let (feature_en, feature_de) = rng.pick(&FEATURES);
        let weight = rng.between(1, 60) * 50;
        let order = rng.between(1, 100);
        let name_en = format!("{brand} {series} {prefix_en} {noun_en}");
        let name_de = format!("{brand} {series} {prefix_de}{}", noun_de.to_lowercase());

        // 1–5 variants with distinct (colour, size) pairs.
        let variants = match rng.below(100) {
            0..30 => 1,
            30..50 => 2,
            50..70 => 3,
            70..85 => 4,
            _ => 5,
        };
        let mut pairs: Vec<usize> = (0..COLORS.len() * SIZES.len()).collect();
        for at in 0..variants {
            let other = at + rng.below(pairs.len() - at);
            pairs.swap(at, other);
        }
        pairs.truncate(variants);
        pairs.sort_unstable();
        let color_code = COLORS[pairs[0] / SIZES.len()].3;

        // product_abstract.csv
        row.clear();
        row.push(leaf.clone());
        row.push(order.to_string());
        row.push(sku.clone());
        let names: Vec<String> = locales.iter().map(|locale| locale.text(&name_en, &name_de)).collect();
        row.extend(names.iter().cloned());
        for (locale, name) in locales.iter().zip(&names) {
            row.push(format!("/{}/{}-{sku}", locale.lang, slug(name)));
        }
        row.extend(
            ["brand", brand, "material", material_en, "weight"]
                .into_iter()
                .map(str::to_owned),
        );
        row.push(format!("{weight} g"));
        for locale in &locales {
            row.push("material".to_owned());
            row.push(locale.pick(material_en, material_de).to_owned());
        }
        row.push(color_code.to_owned());
        for locale in &locales {
            let material = locale.pick(material_en, material_de);
            let text = if locale.german {
                format!("{name_de} aus {material} von {brand}. {feature_de}")
            } else {
                format!("{name_en} in {} by {brand}. {feature_en}", material.to_lowercase())
            };
            row.push(format!("{text}{}", locale.suffix));
        }
        row.extend(names.iter().cloned());
        for locale in &locales {
            row.push(format!(
                "{brand},{},{}",
                locale.pick(noun_en, noun_de),
                locale.pick(material_en, material_de)
            ));
        }
        for (locale, name) in locales.iter().zip(&names) {
            row.push(format!("{name}: {}", locale.pick(feature_en, feature_de)));
        }
        row.push(TAX_SET.to_owned());
        abstracts.row(&row)?;

        for (file, store) in abstract_stores.iter_mut().zip(&stores) {
            file.row([sku.as_str(), store.code.as_str()])?;
        }

        // Prices: abstract DEFAULT in every store and currency, ~20 % ORIGINAL, a few volume prices.
        let base = charm(rng.between(9, 299) * 100);
        let original = rng.percent(20).then(|| charm(base * rng.between(115, 160) / 100));
        let volume = rng.percent(5);
        for (file, store) in prices.iter_mut().zip(&stores) {
            let convert = |cents: u64| {
                if store.currency == "CHF" {
                    charm(cents * 108 / 100)
                } else {
                    cents
                }
            };
            let gross = convert(base);
            let net = net_of(gross, store.rate_bp);
            let volume_prices = if volume {
                let gross = gross * 90 / 100;
                format!(
                    "[{{\"quantity\":5,\"net_price\":{},\"gross_price\":{gross}}}]",
                    net_of(gross, store.rate_bp)
                )
            } else {
                String::new()
            };
            file.row([
                sku.as_str(),
                "",
                "DEFAULT",
                &store.code,
                store.currency,
                &net.to_string(),
                &gross.to_string(),
                &volume_prices,
            ])?;
            if let Some(original) = original {
                let gross = convert(original);
                file.row([
                    sku.as_str(),
                    "",
                    "ORIGINAL",
                    &store.code,
                    store.currency,
                    &net_of(gross, store.rate_bp).to_string(),
                    &gross.to_string(),
                    "",
                ])?;
            }
        }

        // Concretes, their stock and size surcharges.
        for pair in &pairs {
            let (color_key, color_en, color_de, _) = COLORS[pair / SIZES.len()];
            let size = SIZES[pair % SIZES.len()];
            let concrete_sku = format!("{sku}_{color_key}_{}", size.to_ascii_lowercase());
            row.clear();
            row.push(sku.clone());
            row.push(concrete_sku.clone());
            for locale in &locales {
                row.push(locale.text(
                    &format!("{name_en} {color_en} {size}"),
                    &format!("{name_de} {color_de} {size}"),
                ));
            }
            row.extend(["color", color_en, "size", size].into_iter().map(str::to_owned));
            for locale in &locales {
                row.push("color".to_owned());
                row.push(locale.pick(color_en, color_de).to_owned());
            }
            for locale in &locales {
                row.push(locale.text(
                    &format!("{color_en}, size {size}."),
                    &format!("{color_de}, Größe {size}."),
                ));
            }
            for _ in &locales {
                row.push("1".to_owned());
            }
            row.push(String::new());
            concretes.row(&row)?;

            if variants > 1 && size == "XL" {
                for (file, store) in prices.iter_mut().zip(&stores) {
                    let gross = if store.currency == "CHF" {
                        charm((base + 500) * 108 / 100)
                    } else {
                        charm(base + 500)
                    };
                    file.row([
                        sku.as_str(),
                        concrete_sku.as_str(),
                        "DEFAULT",
                        &store.code,
                        store.currency,
                        &net_of(gross, store.rate_bp).to_string(),
                        &gross.to_string(),
                        "",
                    ])?;
                }
            }

            let never_out = rng.percent(3);
            for warehouse in WAREHOUSES {
                let quantity = if never_out || rng.percent(15) {
                    0
                } else {
                    rng.between(1, 250)
                };
                stock.row([
                    concrete_sku.as_str(),
                    warehouse,
                    &quantity.to_string(),
                    if never_out { "1" } else { "0" },
                    "0",
                ])?;
            }
        }

        // One placeholder image per abstract.
        let url = format!("/images/{sku}.svg");
        row.clear();
        row.extend(
            ["default", &url, &url, "", &sku, "", "0"]
                .into_iter()
                .map(str::to_owned),
        );
        row.push(format!("img-{sku}"));
        row.push(format!("set-{sku}"));
        for _ in 0..2 {
            row.extend(names.iter().cloned());
        }
        images.row(&row)?;
        svg.clear();
        let _ = writeln!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"400\" viewBox=\"0 0 400 400\">\
             <rect width=\"400\" height=\"400\" fill=\"{color_code}\"/>\
             <text x=\"200\" y=\"190\" font-family=\"sans-serif\" font-size=\"20\" text-anchor=\"middle\" \
             fill=\"#FFFFFF\">{}</text>\
             <text x=\"200\" y=\"225\" font-family=\"sans-serif\" font-size=\"16\" text-anchor=\"middle\" \
             fill=\"#FFFFFF\">{sku}</text></svg>",
            xml_escape(&name_en)
        );
        let path = image_dir.join(format!("{sku}.svg"));
        let mut image = create_file(&path)?;
        image
            .write_all(svg.as_bytes())
            .map_err(|source| GenerateError::Io { path, source })?;
    }

    let abstract_count = abstracts.finish(&mut files)?;
    for file in abstract_stores {
        file.finish(&mut files)?;
    }
    let concrete_count = concretes.finish(&mut files)?;
    let mut price_count = 0;
    for file in prices {
        price_count += file.finish(&mut files)?;
    }

    let mut file = CsvFile::create(
        out,
        "common/common/warehouse.csv",
        &header(&["name", "is_active", "picking_list_strategy"]),
    )?;
    for warehouse in WAREHOUSES {
        file.row([warehouse, "1", ""])?;
    }
    file.finish(&mut files)?;
    for store in &stores {
        let mut file = CsvFile::create(
            out,
            &format!("common/{}/warehouse_store.csv", store.code),
            &header(&["warehouse_name", "store_name"]),
        )?;
        for warehouse in WAREHOUSES {
            file.row([warehouse, store.code.as_str()])?;
        }
        file.finish(&mut files)?;
    }
    let stock_rows = stock.finish(&mut files)?;
    let image_count = images.finish(&mut files)?;
    write_checkout_methods(out, &stores, &mut files)?;
    let review_count = write_reviews(spec, &stores, &locales, out, &mut files)?;

    // The recipe, in the importer's dependency order; product-image last, once every product exists.
    let mut recipe = String::from("version: 0\nactions:\n");
    let mut action = |entity: &str, source: &str| {
        let _ = writeln!(recipe, "  - data_entity: {entity}\n    source: {source}");
    };
    let per_store = |action: &mut dyn FnMut(&str, &str), entity: &str, file: &str| {
        for store in &stores {
            action(entity, &format!("common/{}/{file}", store.code));
        }
    };
    action("store", "common/EU/store.csv");
    action("currency", "common/common/currency.csv");
    per_store(&mut action, "currency-store", "currency_store.csv");
    per_store(&mut action, "locale-store", "locale_store.csv");
    per_store(&mut action, "default-locale-store", "default_locale_store.csv");
    action("glossary", "common/common/glossary.csv");
    action("tax", "common/common/tax.csv");
    action("category", "common/common/category.csv");
    action(
        "category-store",
        &format!("common/{}/category_store.csv", stores[0].code),
    );
    action("product-attribute-key", "common/common/product_attribute_key.csv");
    action("product-abstract", "common/common/product_abstract.csv");
    per_store(&mut action, "product-abstract-store", "product_abstract_store.csv");
    action("product-concrete", "common/common/product_concrete.csv");
    per_store(&mut action, "product-price", "product_price.csv");
    action("warehouse", "common/common/warehouse.csv");
    per_store(&mut action, "warehouse-store", "warehouse_store.csv");
    action("product-stock", "common/common/product_stock.csv");
    action("shipment", "common/common/shipment.csv");
    per_store(&mut action, "shipment-method-store", "shipment_method_store.csv");
    per_store(&mut action, "shipment-price", "shipment_price.csv");
    action("payment-method", "common/common/payment_method.csv");
    per_store(&mut action, "payment-method-store", "payment_method_store.csv");
    action("product-image", "common/common/product_image.csv");
    action("product-review", "common/common/product_review.csv");
    let recipe_path = out.join("full_EU.yml");
    let mut recipe_file = create_file(&recipe_path)?;
    recipe_file
        .write_all(recipe.as_bytes())
        .map_err(|source| GenerateError::Io {
            path: recipe_path.clone(),
            source,
        })?;
    files.push(recipe_path.clone());

    Ok(GeneratedCatalog {
        recipe: recipe_path,
        abstracts: abstract_count,
        concretes: concrete_count,
        categories,
        leaf_categories: leaves.len(),
        attribute_keys,
        prices: price_count,
        stock_rows,
        images: image_count,
        reviews: review_count,
        files,
    })
}

/// Review texts by rating (1–5): English summary and text, German summary and text.
const REVIEW_TEXTS: [(&str, &str, &str, &str); 5] = [
    (
        "Disappointing",
        "It did not last a season. I sent it back.",
        "Enttäuschend",
        "Hat keine Saison gehalten. Ich habe es zurückgeschickt.",
    ),
    (
        "Not quite right",
        "The quality is below what the price promises.",
        "Nicht ganz überzeugend",
        "Die Qualität bleibt hinter dem Preis zurück.",
    ),
    (
        "Does the job",
        "Fine for everyday use, nothing special.",
        "Erfüllt seinen Zweck",
        "Für den Alltag in Ordnung, nichts Besonderes.",
    ),
    (
        "Good value",
        "Well made and it fits as described.",
        "Gutes Preis-Leistungs-Verhältnis",
        "Gut verarbeitet und passt wie beschrieben.",
    ),
    (
        "Excellent",
        "Exactly what I was looking for. I would buy it again.",
        "Ausgezeichnet",
        "Genau das, was ich gesucht habe. Würde ich wieder kaufen.",
    ),
];

const NICKNAMES: [&str; 8] = ["Maria", "Jonas", "Lena", "Tom", "Sophie", "Felix", "Anna", "Paul"];

/// `product_review.csv`. Its own random stream (derived from the seed), so that adding reviews did
/// not change any other generated value.
fn write_reviews(
    spec: &CatalogSpec,
    stores: &[Store],
    locales: &[Locale],
    out: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<usize, GenerateError> {
    let mut rng = Rng(spec.seed ^ 0x5245_5649_4557_5321);
    let mut file = CsvFile::create(
        out,
        "common/common/product_review.csv",
        &header(crate::sets::reviews::COLUMNS),
    )?;
    for index in 0..spec.products {
        if !rng.percent(20) {
            continue;
        }
        let sku = (100_000 + index).to_string();
        for _ in 0..rng.between(1, 3) {
            let locale = &locales[rng.below(locales.len())];
            let store = &stores[rng.below(stores.len())];
            // Mostly good reviews, as real shops have them.
            let rating = match rng.below(100) {
                0..5 => 1,
                5..12 => 2,
                12..30 => 3,
                30..65 => 4,
                _ => 5,
            };
            let (summary_en, text_en, summary_de, text_de) = REVIEW_TEXTS[rating - 1];
            let status = match rng.below(100) {
                0..6 => "pending",
                6..10 => "rejected",
                _ => "approved",
            };
            file.row([
                format!("{}--{}", store.code, rng.between(1, 500)).as_str(),
                sku.as_str(),
                locale.name.as_str(),
                rng.pick(&NICKNAMES),
                locale.pick(summary_en, summary_de),
                locale.pick(text_en, text_de),
                rating.to_string().as_str(),
                status,
            ])?;
        }
    }
    file.finish(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_transliterate_and_collapse() {
        assert_eq!(slug("Fjell Summit Regenjacke"), "fjell-summit-regenjacke");
        assert_eq!(slug("Öko-Jacken [fr_FR]"), "oeko-jacken-fr-fr");
        assert_eq!(slug("  Weiß  "), "weiss");
    }

    #[test]
    fn prices_end_in_ninety_and_net_is_below_gross() {
        assert_eq!(charm(12_345), 12_290);
        assert_eq!(charm(50), 90);
        assert_eq!(net_of(11_900, 1_900), 10_000);
    }
}
