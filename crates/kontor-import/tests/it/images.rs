//! The `product-image` data set: sets and images found again by their natural keys, re-imports that
//! change nothing, every row error with its exact message, and the image documents the storefront reads
//! after import and publish.

use crate::fixtures::*;
use kontor_db::SqlDatabase;
use kontor_db::entity::{locale, outbox, product_concrete, product_image, product_image_set};
use kontor_import::{ImportError, ImportOptions, Importer};
use kontor_kv::{KvOptions, KvStore, MemoryKv};
use kontor_search::TantivySearchIndex;
use kontor_sync::direct::DirectSync;
use kontor_testkit::repo_test_suite;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use std::sync::Arc;

const IMAGE_FILE: &str = "common/common/product_image.csv";

async fn concrete_id(db: &SqlDatabase, sku: &str) -> i64 {
    product_concrete::Entity::find()
        .filter(product_concrete::Column::Sku.eq(sku))
        .one(db.connection())
        .await
        .expect("query")
        .expect("concrete exists")
        .id
}

async fn locale_id(db: &SqlDatabase, name: &str) -> i64 {
    locale::Entity::find()
        .filter(locale::Column::Name.eq(name))
        .one(db.connection())
        .await
        .expect("query")
        .expect("locale exists")
        .id
}

/// `(image key, set id, sort order, large URL)` of every image, by key (keyless last).
async fn images(db: &SqlDatabase) -> Vec<(Option<String>, i64, i32, String)> {
    let mut rows: Vec<_> = product_image::Entity::find()
        .all(db.connection())
        .await
        .expect("images")
        .into_iter()
        .map(|image| {
            (
                image.product_image_key,
                image.product_image_set_id,
                image.sort_order,
                image.external_url_large,
            )
        })
        .collect();
    rows.sort_by(|a, b| (a.0.is_none(), &a.0).cmp(&(b.0.is_none(), &b.0)));
    rows
}

async fn outbox_rows(db: &SqlDatabase, resource: &str) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Resource.eq(resource))
        .order_by_asc(outbox::Column::Id)
        .all(db.connection())
        .await
        .expect("outbox")
}

async fn images_import_by_their_natural_keys(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = shop(dir.path());
    let summary = importer(&db).run_recipe(&recipe).await.expect("import");
    assert_eq!(summary.skipped, ["category-template"], "product-image is imported");
    let names: Vec<&str> = summary.data_sets.iter().map(|set| set.data_set.as_str()).collect();
    let at = names
        .iter()
        .position(|name| *name == "product-image")
        .expect("imported");
    assert_eq!(names[at - 1], "product-concrete");
    let done = &summary.data_sets[at];
    assert_eq!(
        (done.rows_read, done.inserted, done.updated, done.rejected),
        (6, 6, 0, 0)
    );
    let mut expected: Vec<String> = ["small.de_DE", "small.en_US", "large.de_DE", "large.en_US"]
        .iter()
        .map(|column| format!("{IMAGE_FILE}: column \"alt_text_{column}\" is not used by Kontor, skipped"))
        .collect();
    expected.push(format!(
        "{IMAGE_FILE}:7: abstract_sku: no product: the set is kept under its product_image_set_key for the data \
         sets that name it; no product shows it"
    ));
    assert_eq!(done.warnings, expected);

    let (jacket, moor) = (abstract_id(&db, "200").await, abstract_id(&db, "201").await);
    let blue = concrete_id(&db, "200_blue").await;
    let (de, en) = (locale_id(&db, "de_DE").await, locale_id(&db, "en_US").await);
    let sets = product_image_set::Entity::find()
        .order_by_asc(product_image_set::Column::Id)
        .all(db.connection())
        .await
        .expect("sets");
    let set_of = |abstract_id: Option<i64>, concrete_id: Option<i64>, locale: Option<i64>, name: &str| {
        sets.iter()
            .find(|set| {
                (set.product_abstract_id, set.product_concrete_id, set.locale_id) == (abstract_id, concrete_id, locale)
                    && set.name == name
            })
            .unwrap_or_else(|| panic!("a set {name} of {abstract_id:?}/{concrete_id:?} in {locale:?}: {sets:?}"))
    };
    assert_eq!(sets.len(), 5, "{sets:?}");
    let shared = set_of(Some(jacket), None, None, "default");
    let german = set_of(Some(jacket), None, Some(de), "default");
    let variant = set_of(None, Some(blue), Some(en), "default");
    let thumbnail = set_of(Some(moor), None, None, "thumbnail");
    let bundle = set_of(None, None, Some(de), "default");
    assert_eq!(
        [shared, german, thumbnail].map(|set| set.product_image_set_key.clone()),
        [None, None, None]
    );
    assert_eq!(variant.product_image_set_key.as_deref(), Some("set-200-blue"));
    assert_eq!(bundle.product_image_set_key.as_deref(), Some("set-bundle"));
    let key = |raw: &str| Some(raw.to_owned());
    let url = |name: &str| format!("https://img.example/{name}");
    assert_eq!(
        images(&db).await,
        [
            (key("img-200-1"), shared.id, 1, url("200-1-l.jpg")),
            (key("img-200-2"), shared.id, 0, url("200-2-l.jpg")),
            (key("img-200-blue"), variant.id, 0, url("200-blue-l.jpg")),
            (key("img-200-de"), german.id, 0, url("200-de-l.jpg")),
            (key("img-bundle"), bundle.id, 0, url("bundle-l.png")),
            (None, thumbnail.id, 0, url("201-t.jpg")),
        ]
    );

    // One outbox row per set and image, routed to the owning product's image document.
    let set_rows = outbox_rows(&db, "product_image_set").await;
    assert_eq!(set_rows.len(), 5);
    let routed = |rows: &[outbox::Model], id: i64| {
        rows.iter()
            .find(|row| row.entity_id == id)
            .map(|row| (row.event.clone(), row.foreign_keys.clone()))
    };
    assert_eq!(
        routed(&set_rows, shared.id),
        Some((
            "Entity.product_image_set.create".to_owned(),
            Some(format!("{{\"fk_product_abstract\":[{jacket}]}}"))
        ))
    );
    assert_eq!(
        routed(&set_rows, variant.id).and_then(|row| row.1),
        Some(format!("{{\"fk_product_concrete\":[{blue}]}}"))
    );
    assert_eq!(
        routed(&set_rows, bundle.id).map(|row| row.1),
        Some(None),
        "nobody to publish"
    );
    let image_rows = outbox_rows(&db, "product_image").await;
    assert_eq!(image_rows.len(), 6);
    assert!(image_rows.iter().all(|row| row.event == "Entity.product_image.create"));

    // The same file again: nothing changes, nothing is published.
    let before = outbox_count(&db).await;
    let again = importer(&db)
        .run_file("product-image", &dir.path().join(IMAGE_FILE))
        .await
        .expect("re-import");
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 6));
    assert_eq!(outbox_count(&db).await, before, "no outbox rows on re-import");
    assert_eq!(
        product_image_set::Entity::find()
            .count(db.connection())
            .await
            .expect("count"),
        5
    );
}

/// `(set name, large URLs in order)` of an image document, or `None` when there is none.
async fn image_sets(kv: &dyn KvStore, key: &str) -> Option<Vec<(String, Vec<String>)>> {
    let document: Value = kv.get(key).await.expect("kv get")?;
    let sets = document["image_sets"].as_array().expect("image sets");
    Some(
        sets.iter()
            .map(|set| {
                let urls = set["images"]
                    .as_array()
                    .expect("images")
                    .iter()
                    .map(|image| image["external_url_large"].as_str().expect("url").to_owned())
                    .collect();
                (set["name"].as_str().expect("name").to_owned(), urls)
            })
            .collect(),
    )
}

fn set(name: &str, urls: &[&str]) -> Option<Vec<(String, Vec<String>)>> {
    Some(vec![(
        name.to_owned(),
        urls.iter().map(|url| format!("https://img.example/{url}")).collect(),
    )])
}

async fn images_reach_their_documents_after_publish(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let recipe = shop(dir.path());
    importer(&db).run_recipe(&recipe).await.expect("import");
    let kv: Arc<dyn KvStore> = Arc::new(MemoryKv::new(KvOptions::default()));
    let sync = DirectSync::new(db.clone(), kv.clone(), Arc::new(TantivySearchIndex::in_memory()));
    sync.drain().await.expect("publish");

    let (jacket, moor) = (abstract_id(&db, "200").await, abstract_id(&db, "201").await);
    let (blue, red) = (concrete_id(&db, "200_blue").await, concrete_id(&db, "200_red").await);
    let kv = kv.as_ref();
    // English falls back to the locale-less set, in sort order; German has its own set of that name.
    assert_eq!(
        image_sets(kv, &format!("product_abstract_image:en_us:{jacket}")).await,
        set("default", &["200-2-l.jpg", "200-1-l.jpg"])
    );
    assert_eq!(
        image_sets(kv, &format!("product_abstract_image:de_de:{jacket}")).await,
        set("default", &["200-de-l.jpg"])
    );
    for locale in ["en_us", "de_de"] {
        assert_eq!(
            image_sets(kv, &format!("product_abstract_image:{locale}:{moor}")).await,
            set("thumbnail", &["201-t.jpg"]),
            "{locale}"
        );
    }
    assert_eq!(
        image_sets(kv, &format!("product_concrete_image:en_us:{blue}")).await,
        set("default", &["200-blue-l.jpg"])
    );
    assert_eq!(
        image_sets(kv, &format!("product_concrete_image:de_de:{blue}")).await,
        None,
        "the variant's set is English only"
    );

    // Changes by key: an image moved into the German set, a new sort order, a set moved to another
    // variant. Each changed entity gets one outbox row, and both variants re-publish.
    let changed = PRODUCT_IMAGE
        .replace(",,200,,1,img-200-1,", ",de_DE,200,,1,img-200-1,")
        .replace(",200,,0,img-200-2,", ",200,,2,img-200-2,")
        .replace(",,200_blue,0,img-200-blue,", ",,200_red,0,img-200-blue,");
    let file = write(dir.path(), IMAGE_FILE, changed);
    let before = outbox_count(&db).await;
    let summary = importer(&db).run_file("product-image", &file).await.expect("changes");
    assert_eq!((summary.inserted, summary.updated, summary.unchanged), (0, 3, 3));
    assert_eq!(outbox_count(&db).await, before + 3);
    let moved = outbox_rows(&db, "product_image_set").await.pop().expect("a set row");
    assert_eq!(moved.event, "Entity.product_image_set.update");
    assert_eq!(
        moved.foreign_keys,
        Some(format!("{{\"fk_product_concrete\":[{blue},{red}]}}"))
    );
    sync.drain().await.expect("publish changes");
    assert_eq!(
        image_sets(kv, &format!("product_abstract_image:en_us:{jacket}")).await,
        set("default", &["200-2-l.jpg"])
    );
    assert_eq!(
        image_sets(kv, &format!("product_abstract_image:de_de:{jacket}")).await,
        set("default", &["200-de-l.jpg", "200-1-l.jpg"])
    );
    assert_eq!(
        image_sets(kv, &format!("product_concrete_image:en_us:{red}")).await,
        set("default", &["200-blue-l.jpg"])
    );
    assert_eq!(
        image_sets(kv, &format!("product_concrete_image:en_us:{blue}")).await,
        None
    );
}

const HEADER: &str = "image_set_name,external_url_large,external_url_small,locale,abstract_sku,concrete_sku,sort_order,product_image_key,product_image_set_key\n";

/// Lines 2–16; lines 8, 13 and 15 are good.
const BAD_ROWS: &str = "\
default,https://img.example/a-l.jpg,https://img.example/a-s.jpg,,999,,0,img-a,
default,https://img.example/b-l.jpg,https://img.example/b-s.jpg,,,200_green,0,img-b,
default,https://img.example/c-l.jpg,https://img.example/c-s.jpg,fr_FR,200,,0,img-c,
default,,https://img.example/d-s.jpg,,200,,0,img-d,
default,https://img.example/e-l.jpg,,,200,,0,img-e,
default,https://img.example/f-l.jpg,https://img.example/f-s.jpg,,200,,first,img-f,
default,https://img.example/g-l.jpg,https://img.example/g-s.jpg,,200,,0,img-g,
default,https://img.example/h-l.jpg,https://img.example/h-s.jpg,,200,,1,img-g,
default,https://img.example/i-l.jpg,https://img.example/i-s.jpg,,200,200_blue,0,img-i,
default,https://img.example/j-l.jpg,https://img.example/j-s.jpg,,,,0,img-j,
,https://img.example/k-l.jpg,https://img.example/k-s.jpg,,200,,0,img-k,
default,https://img.example/l-l.jpg,https://img.example/l-s.jpg,,200,,0,img-l,set-x
default,https://img.example/m-l.jpg,https://img.example/m-s.jpg,,201,,0,img-m,set-x
thumbnail,https://img.example/n-l.jpg,https://img.example/n1-s.jpg,,201,,0,,
thumbnail,https://img.example/n-l.jpg,https://img.example/n2-s.jpg,,201,,1,,
";

async fn image_errors_name_file_line_and_column(db: SqlDatabase) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut recipe_text = RECIPE.to_owned();
    // The shop without its images, so that nothing of this data set is in the database yet.
    recipe_text = recipe_text.replace(
        &format!("  - data_entity: product-image\n    source: {IMAGE_FILE}\n"),
        "",
    );
    shop(dir.path());
    let recipe = write(dir.path(), "no_images.yml", recipe_text);
    importer(&db).run_recipe(&recipe).await.expect("shop");

    let file = write(dir.path(), "bad/product_image.csv", format!("{HEADER}{BAD_ROWS}"));
    let error = importer(&db)
        .run_file("product-image", &file)
        .await
        .expect_err("bad images");
    let name = file.display();
    let ImportError::InvalidRows { total, shown, .. } = &error else {
        panic!("unexpected: {error}")
    };
    assert_eq!(*total, 12);
    assert_eq!(
        shown,
        &[
            format!("{name}:2: abstract_sku: abstract product \"999\" is unknown"),
            format!("{name}:3: concrete_sku: concrete product \"200_green\" is unknown"),
            format!("{name}:4: locale: locale \"fr_FR\" is unknown"),
            format!("{name}:5: external_url_large: must not be empty"),
            format!("{name}:6: external_url_small: must not be empty"),
            format!("{name}:7: sort_order: \"first\" is not a whole number ≥ 0"),
            format!("{name}:9: product_image_key: image key \"img-g\" appears twice in the file (first on line 8)"),
            format!(
                "{name}:10: concrete_sku: abstract_sku is given too; an image set belongs to one product, give one of them"
            ),
            format!("{name}:11: abstract_sku: abstract_sku or concrete_sku must be given"),
            format!("{name}:12: image_set_name: must not be empty"),
            format!(
                "{name}:14: product_image_set_key: set \"set-x\" has another product, locale or image_set_name on line 13"
            ),
            format!(
                "{name}:16: external_url_large: the image is in this set on line 15 already (give product_image_key to import both)"
            ),
        ]
    );
    assert!(error.to_string().starts_with(&format!(
        "{name}: 12 invalid row(s), nothing of \"product-image\" was imported:\n"
    )));
    let stored = |db: SqlDatabase| async move {
        (
            product_image_set::Entity::find()
                .count(db.connection())
                .await
                .expect("count"),
            product_image::Entity::find()
                .count(db.connection())
                .await
                .expect("count"),
        )
    };
    assert_eq!(stored(db.clone()).await, (0, 0), "all or nothing");

    // With skip_invalid the three good rows are written and the others go to the rejects file.
    let rejects_dir = tempfile::tempdir().expect("rejects dir");
    let options = ImportOptions {
        skip_invalid: true,
        rejects_dir: Some(rejects_dir.path().to_path_buf()),
        ..ImportOptions::default()
    };
    let summary = Importer::new(db.clone(), options)
        .run_file("product-image", &file)
        .await
        .expect("skip invalid");
    assert_eq!((summary.rows_read, summary.inserted, summary.rejected), (15, 3, 12));
    let rejects = std::fs::read_to_string(summary.rejects_file.expect("a rejects file")).expect("rejects");
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0], format!("{},error", HEADER.trim_end()));
    assert_eq!(
        lines[1],
        "default,https://img.example/a-l.jpg,https://img.example/a-s.jpg,,999,,0,img-a,,\
         \"abstract_sku: abstract product \"\"999\"\" is unknown\""
    );
    assert_eq!(
        stored(db.clone()).await,
        (3, 3),
        "sets default of 200, set-x, thumbnail of 201"
    );

    // The header is checked before any row.
    let header = write(
        dir.path(),
        "bad/header.csv",
        "image_set_name,external_url_large,locale,abstract_sku,alt_text.de_DE\ndefault,x,,200,\n",
    );
    let error = importer(&db)
        .run_file("product-image", &header)
        .await
        .expect_err("bad header");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: required column \"external_url_small\" is missing; unknown column \"alt_text.de_DE\"",
            header.display()
        )
    );
}

repo_test_suite!(
    images_import_by_their_natural_keys,
    images_reach_their_documents_after_publish,
    image_errors_name_file_line_and_column,
);
