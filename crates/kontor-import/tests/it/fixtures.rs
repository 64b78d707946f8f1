//! A small invented shop in Spryker's layout, and helpers to write files and read counts back.

use kontor_db::SqlDatabase;
use kontor_db::entity::{outbox, product_abstract};
use kontor_import::{ImportOptions, Importer};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::path::{Path, PathBuf};

pub fn write(root: &Path, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
    std::fs::write(&path, content).expect("write fixture");
    path
}

pub fn importer(db: &SqlDatabase) -> Importer {
    Importer::new(db.clone(), ImportOptions::default())
}

/// The id of the abstract product with this SKU (which must exist).
pub async fn abstract_id(db: &SqlDatabase, sku: &str) -> i64 {
    product_abstract::Entity::find()
        .filter(product_abstract::Column::Sku.eq(sku))
        .one(db.connection())
        .await
        .expect("query")
        .expect("abstract exists")
        .id
}

pub async fn outbox_count(db: &SqlDatabase) -> u64 {
    outbox::Entity::find()
        .count(db.connection())
        .await
        .expect("count outbox")
}

pub const RECIPE: &str = "\
version: 0
actions:
  - data_entity: store
    source: common/EU/store.csv
  - data_entity: currency
    source: common/common/currency.csv
  - data_entity: currency-store
    source: common/DE/currency_store.csv
  - data_entity: locale-store
    source: common/DE/locale_store.csv
  - data_entity: default-locale-store
    source: common/DE/default_locale_store.csv
  - data_entity: glossary
    source: common/common/glossary.csv
  - data_entity: tax
    source: common/common/tax.csv
  - data_entity: category-template
    source: common/common/category_template.csv
  - data_entity: category
    source: common/common/category.csv
  - data_entity: category-store
    source: common/DE/category_store.csv
  - data_entity: product-attribute-key
    source: common/common/product_attribute_key.csv
  - data_entity: product-abstract
    source: common/common/product_abstract.csv
  - data_entity: product-abstract-store
    source: common/DE/product_abstract_store.csv
  - data_entity: product-concrete
    source: common/common/product_concrete.csv
  - data_entity: product-image
    source: common/common/product_image.csv
  - data_entity: product-price
    source: common/DE/product_price.csv
  - data_entity: stock
    source: common/common/warehouse.csv
  - data_entity: stock-store
    source: common/DE/warehouse_store.csv
  - data_entity: product-stock
    source: common/common/product_stock.csv
  - data_entity: shipment
    source: common/common/shipment.csv
  - data_entity: shipment-price
    source: common/DE/shipment_price.csv
  - data_entity: payment-method
    source: common/common/payment_method.csv
  - data_entity: shipment-method-store
    source: common/DE/shipment_method_store.csv
  - data_entity: payment-method-store
    source: common/DE/payment_method_store.csv
";

/// Shipment and payment methods: Spryker's headers (camelCase `taxSetName` included), invented rows.
pub const SHIPMENT: &str = "\
shipment_method_key,name,carrier,taxSetName
kt_standard,Standard,Kontor Post,Outerwear Std
kt_pickup,Pickup,Self Service,
";
pub const SHIPMENT_METHOD_STORE: &str = "shipment_method_key,store\nkt_standard,DE\nkt_standard,AT\nkt_pickup,DE\n";
pub const SHIPMENT_PRICE: &str = "\
shipment_method_key,store,currency,value_net,value_gross
kt_standard,DE,EUR,,490
kt_standard,DE,CHF,,560
kt_standard,AT,EUR,408,490
kt_pickup,DE,EUR,0,0
";
pub const PAYMENT_METHOD: &str = "\
payment_method_key,payment_method_name,payment_provider_key,payment_provider_name,is_active
kt-invoice,Invoice,DummyPayment,Dummy Payment,1
kt-card,Credit Card,DummyPayment,Dummy Payment,0
";
pub const PAYMENT_METHOD_STORE: &str = "payment_method_key,store\nkt-invoice,DE\nkt-invoice,AT\nkt-card,DE\n";

pub const PRODUCT_ABSTRACT: &str = "\
category_key,category_product_order,abstract_sku,name.en_US,name.de_DE,url.en_US,url.de_DE,attribute_key_1,value_1,attribute_key_1.de_DE,value_1.de_DE,attribute_key_2,value_2,color_code,description.en_US,description.de_DE,tax_set_name,meta_title.en_US,meta_title.de_DE
jackets,10,200,Tarn Shell Jacket,Tarn Schalenjacke,/en/tarn-shell-jacket-200,,material,Nylon,material,Nylon DE,brand,Tarn,#112233,A shell.,Eine Schale.,Outerwear Std,Tarn Shell,Tarn Schale
\"jackets,outdoor\",\"5,7\",201,Moor Fleece,Moor Fleece,,,material,Fleece,,,,,,Warm.,Warm.,Outerwear Std,Moor,Moor
";

/// Spryker's header, invented rows: a locale-less abstract set of two images (the second sorted first),
/// a German set of the same name that overrides it in de_DE, a keyed English set of a concrete, a
/// keyless image in a keyless set with an empty sort order, and an ownerless keyed set (as Spryker's
/// demo has for configurable bundle templates).
pub const PRODUCT_IMAGE: &str = "\
image_set_name,external_url_large,external_url_small,locale,abstract_sku,concrete_sku,sort_order,product_image_key,product_image_set_key,alt_text_small.de_DE,alt_text_small.en_US,alt_text_large.de_DE,alt_text_large.en_US
default,https://img.example/200-1-l.jpg,https://img.example/200-1-s.jpg,,200,,1,img-200-1,,Jacke,Jacket,Jacke,Jacket
default,https://img.example/200-2-l.jpg,https://img.example/200-2-s.jpg,,200,,0,img-200-2,,,,,
default,https://img.example/200-de-l.jpg,https://img.example/200-de-s.jpg,de_DE,200,,0,img-200-de,,,,,
default,https://img.example/200-blue-l.jpg,https://img.example/200-blue-s.jpg,en_US,,200_blue,0,img-200-blue,set-200-blue,,,,
thumbnail,https://img.example/201-t.jpg,https://img.example/201-t.jpg,,201,,,,,,,,
default,https://img.example/bundle-l.png,https://img.example/bundle-s.png,de_DE,,,0,img-bundle,set-bundle,,,,
";

/// Writes the whole shop under `root` and returns the recipe path.
pub fn shop(root: &Path) -> PathBuf {
    write(root, "common/EU/store.csv", "name\nDE\nAT\n");
    write(
        root,
        "common/common/currency.csv",
        "iso_code,currency_symbol,name\nEUR,€,Euro\nCHF,CHF,Swiss Franc\n",
    );
    write(
        root,
        "common/DE/currency_store.csv",
        "currency_code,store_name,is_default\nEUR,DE,1\nCHF,DE,0\nEUR,AT,1\n",
    );
    write(
        root,
        "common/DE/locale_store.csv",
        "locale_name,store_name\nen_US,DE\nde_DE,DE\nde_DE,AT\n",
    );
    write(
        root,
        "common/DE/default_locale_store.csv",
        "locale_name,store_name\nde_DE,DE\nde_DE,AT\n",
    );
    write(
        root,
        "common/common/glossary.csv",
        "key,translation,locale\ncart.title,Cart,en_US\ncart.title,Warenkorb,de_DE\ncart.title,Basket,en_US\n",
    );
    write(
        root,
        "common/common/tax.csv",
        "tax_set_name,country_name,tax_rate_name,tax_rate_percent\nOuterwear Std,Germany,DE Std,19\nOuterwear Std,AT,AT Std,20\n",
    );
    write(
        root,
        "common/common/category.csv",
        "category_key,parent_category_key,name.de_DE,name.en_US,meta_title.de_DE,meta_title.en_US,is_active,is_in_menu,is_root,is_main,node_order,template_name\n\
         shop,,Laden,Shop,Laden,Shop,1,1,1,1,,Catalog (default)\n\
         outdoor,shop,Draußen,Outdoor,Draußen,Outdoor,1,1,0,1,90,Catalog (default)\n\
         jackets,outdoor,Jacken,Jackets,Jacken,Jackets,1,1,0,1,10,Catalog (default)\n",
    );
    write(
        root,
        "common/DE/category_store.csv",
        "category_key,included_store_names,excluded_store_names\nshop,\"DE,AT\",\njackets,*,AT\n",
    );
    write(
        root,
        "common/common/product_attribute_key.csv",
        "attribute_key,is_super\ncolor,1\nmaterial,0\nweight,0\n",
    );
    write(root, "common/common/product_abstract.csv", PRODUCT_ABSTRACT);
    write(
        root,
        "common/DE/product_abstract_store.csv",
        "abstract_sku,store_name\n200,DE\n200,AT\n201,DE\n",
    );
    write(
        root,
        "common/common/product_concrete.csv",
        "abstract_sku,concrete_sku,name.en_US,name.de_DE,attribute_key_1,value_1,attribute_key_2,value_2,is_searchable.en_US,is_searchable.de_DE,bundled\n\
         200,200_blue,Tarn Blue,Tarn Blau,color,Blue,weight,400 g,1,1,\n\
         200,200_red,Tarn Red,Tarn Rot,color,Red,weight,400 g,1,0,\n\
         201,201_one,Moor,Moor,,,,,1,1,\n",
    );
    write(root, "common/common/product_image.csv", PRODUCT_IMAGE);
    write(
        root,
        "common/DE/product_price.csv",
        "abstract_sku,concrete_sku,price_type,store,currency,value_net,value_gross,price_data.volume_prices\n\
         200,,DEFAULT,DE,EUR,,12900,\"[{\"\"quantity\"\":5,\"\"net_price\"\":10840,\"\"gross_price\"\":11900}]\"\n\
         ,200_red,ORIGINAL,DE,EUR,,15900,\n\
         200,200_blue,DEFAULT,DE,CHF,,13900,\n\
         201,,DEFAULT,DE,EUR,8000,9520,\n",
    );
    write(
        root,
        "common/common/warehouse.csv",
        "name,is_active,picking_list_strategy\nNorth Hall,1,\nSouth Hall,1,\n",
    );
    write(
        root,
        "common/DE/warehouse_store.csv",
        "warehouse_name,store_name\nNorth Hall,DE\nSouth Hall,AT\n",
    );
    write(
        root,
        "common/common/product_stock.csv",
        "concrete_sku,name,quantity,is_never_out_of_stock,is_bundle\n200_blue,North Hall,25,0,0\n200_red,South Hall,0,1,0\n",
    );
    write(root, "common/common/shipment.csv", SHIPMENT);
    write(root, "common/DE/shipment_method_store.csv", SHIPMENT_METHOD_STORE);
    write(root, "common/DE/shipment_price.csv", SHIPMENT_PRICE);
    write(root, "common/common/payment_method.csv", PAYMENT_METHOD);
    write(root, "common/DE/payment_method_store.csv", PAYMENT_METHOD_STORE);
    write(root, "full_EU.yml", RECIPE)
}
