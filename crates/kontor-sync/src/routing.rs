//! Which projections an outbox row touches, and which of their entities (ARCHITECTURE §3, dependent
//! re-publish). Routing uses the ids in the row and its recorded foreign keys, so even a deleted row
//! reaches every document that showed it. Sources nobody reads are dropped here.

use kontor_domain::outbox::{OutboxEntry, RESERVATION_QUANTITY_EVENT};
use kontor_readmodel::storage::projection as p;

/// The queue of orders whose items may have OMS steps to run (oms.md §3): checkout and every state
/// change write a `sales_order` outbox row, and the relay sends its id here instead of to a publisher.
pub const OMS_EVENTS: &str = "oms.events";

/// One routed change: rebuild `ids` (or everything, when `all`) of `projection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub projection: &'static str,
    pub ids: Vec<i64>,
    pub all: bool,
}

fn to(projection: &'static str, ids: Vec<i64>) -> Route {
    Route {
        projection,
        ids,
        all: false,
    }
}

fn everything(projection: &'static str) -> Route {
    Route {
        projection,
        ids: Vec::new(),
        all: true,
    }
}

/// The routes of one outbox row; empty when no projection reads the source.
pub fn routes(entry: &OutboxEntry) -> Vec<Route> {
    let own = vec![entry.entity_id];
    let fk = |name: &str| entry.foreign_key_ids(name);
    let routes = match entry.resource.as_str() {
        "product_abstract" => {
            let mut routes = vec![
                to(p::PRODUCT_ABSTRACT, own.clone()),
                to(p::PRODUCT_PAGE, own.clone()),
                to(p::AVAILABILITY, own.clone()),
                to(p::PRICE_PRODUCT_ABSTRACT, own.clone()),
                // Store assignments decide the image documents' locales; a delete cascades to the sets.
                to(p::PRODUCT_ABSTRACT_IMAGE, own.clone()),
                to(p::PRODUCT_CONCRETE, fk("fk_product_concrete")),
                to(p::PRODUCT_CONCRETE_IMAGE, fk("fk_product_concrete")),
                to(p::URL, fk("fk_url")),
            ];
            // Reviews cascade with their product; nothing else about a product changes their documents.
            if entry.event.ends_with(".delete") {
                routes.push(to(p::PRODUCT_ABSTRACT_REVIEW, own.clone()));
                routes.push(to(p::PRODUCT_REVIEW, own));
            }
            routes
        }
        "product_concrete" => vec![
            to(p::PRODUCT_CONCRETE, own.clone()),
            to(p::PRICE_PRODUCT_CONCRETE, own.clone()),
            to(p::PRODUCT_CONCRETE_IMAGE, own),
            to(p::PRODUCT_ABSTRACT, fk("fk_product_abstract")),
            to(p::PRODUCT_PAGE, fk("fk_product_abstract")),
            to(p::AVAILABILITY, fk("fk_product_abstract")),
        ],
        "price_product" => vec![
            to(p::PRICE_PRODUCT_ABSTRACT, fk("fk_price_product_abstract")),
            to(p::PRICE_PRODUCT_CONCRETE, fk("fk_product_concrete")),
            to(p::PRODUCT_PAGE, fk("fk_product_abstract")),
        ],
        "stock_product" => {
            vec![
                to(p::AVAILABILITY, fk("fk_product_abstract")),
                to(p::PRODUCT_PAGE, fk("fk_product_abstract")),
            ]
        }
        // A review moves its product's rating (document and search page) and review list.
        "product_review" => vec![
            to(p::PRODUCT_ABSTRACT_REVIEW, fk("fk_product_abstract")),
            to(p::PRODUCT_REVIEW, fk("fk_product_abstract")),
            to(p::PRODUCT_PAGE, fk("fk_product_abstract")),
        ],
        // The daily recount of units sold changes the product's `popularity` sort key.
        "product_abstract_popularity" => vec![to(p::PRODUCT_PAGE, fk("fk_product_abstract"))],
        "sales_order" => vec![to(OMS_EVENTS, own)],
        // Reservations of open orders change what is available; the search page shows only whether a
        // product is in stock, so a change the writer knows kept that leaves the page alone.
        "oms_product_reservation" if entry.event == RESERVATION_QUANTITY_EVENT => {
            vec![to(p::AVAILABILITY, fk("fk_product_abstract"))]
        }
        "oms_product_reservation" => vec![
            to(p::AVAILABILITY, fk("fk_product_abstract")),
            to(p::PRODUCT_PAGE, fk("fk_product_abstract")),
        ],
        "product_category" => {
            vec![
                to(p::PRODUCT_ABSTRACT, fk("fk_product_abstract")),
                to(p::PRODUCT_PAGE, fk("fk_product_abstract")),
            ]
        }
        "category" => {
            let mut nodes = fk("fk_category_node");
            nodes.extend(fk("fk_parent_category_node"));
            vec![
                to(p::CATEGORY_NODE, nodes),
                to(p::CATEGORY_TREE, vec![0]),
                to(p::URL, fk("fk_url")),
            ]
        }
        // Image sets and images are routed by the product that owns the set: writers record
        // `fk_product_abstract` or `fk_product_concrete` (for an image, those of its set). Concrete image
        // documents hold only the concrete's own sets, so an abstract's set never fans out to variants.
        "product_image_set" | "product_image" => vec![
            to(p::PRODUCT_ABSTRACT_IMAGE, fk("fk_product_abstract")),
            to(p::PRODUCT_CONCRETE_IMAGE, fk("fk_product_concrete")),
        ],
        "glossary_key" => vec![to(p::TRANSLATION, own)],
        "store" => vec![to(p::STORE, own)],
        // A locale or currency can change what every store document lists.
        "locale" | "currency" => vec![everything(p::STORE)],
        // Which warehouses deliver to a store decides availability everywhere.
        "warehouse" => vec![everything(p::AVAILABILITY), everything(p::PRODUCT_PAGE)],
        // Making an attribute a variant axis changes every product's variant map.
        "product_attribute_key" => vec![everything(p::PRODUCT_ABSTRACT), everything(p::PRODUCT_CONCRETE)],
        _ => Vec::new(),
    };
    routes
        .into_iter()
        .filter(|route| route.all || !route.ids.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn entry(resource: &str, id: i64, foreign_keys: serde_json::Value) -> OutboxEntry {
        OutboxEntry {
            id: 1,
            resource: resource.to_owned(),
            entity_id: id,
            event: format!("Entity.{resource}.update"),
            foreign_keys: Some(foreign_keys),
            changed_at: Utc::now(),
            relayed_at: None,
        }
    }

    #[test]
    fn a_price_change_reaches_its_price_document_and_the_search_page() {
        let routes = routes(&entry(
            "price_product",
            9,
            serde_json::json!({"fk_product_abstract": [3], "fk_product_concrete": [7]}),
        ));
        assert_eq!(
            routes,
            [to(p::PRICE_PRODUCT_CONCRETE, vec![7]), to(p::PRODUCT_PAGE, vec![3])],
            "a concrete-level price does not touch the abstract price document"
        );
    }

    #[test]
    fn image_changes_reach_the_image_document_of_their_owner() {
        let abstract_set = routes(&entry(
            "product_image_set",
            5,
            serde_json::json!({"fk_product_abstract": [3]}),
        ));
        assert_eq!(abstract_set, [to(p::PRODUCT_ABSTRACT_IMAGE, vec![3])]);
        let concrete_image = routes(&entry(
            "product_image",
            8,
            serde_json::json!({"fk_product_concrete": [7]}),
        ));
        assert_eq!(concrete_image, [to(p::PRODUCT_CONCRETE_IMAGE, vec![7])]);
    }

    #[test]
    fn reviews_reach_their_product_and_only_a_product_delete_reaches_reviews() {
        let review = routes(&entry(
            "product_review",
            4,
            serde_json::json!({"fk_product_abstract": [3]}),
        ));
        assert_eq!(
            review,
            [
                to(p::PRODUCT_ABSTRACT_REVIEW, vec![3]),
                to(p::PRODUCT_REVIEW, vec![3]),
                to(p::PRODUCT_PAGE, vec![3])
            ]
        );
        let reaches_reviews = |event: &str| {
            let mut product = entry("product_abstract", 3, serde_json::json!({}));
            product.event = event.to_owned();
            routes(&product)
                .iter()
                .any(|route| route.projection == p::PRODUCT_REVIEW)
        };
        assert!(!reaches_reviews("Entity.product_abstract.update"));
        assert!(reaches_reviews("Entity.product_abstract.delete"));
    }

    #[test]
    fn a_reservation_that_kept_the_stock_flag_re_publishes_availability_only() {
        let keys = serde_json::json!({"fk_product_abstract": [3], "fk_product_concrete": [7]});
        let flag_changed = routes(&entry("oms_product_reservation", 7, keys.clone()));
        assert_eq!(
            flag_changed,
            [to(p::AVAILABILITY, vec![3]), to(p::PRODUCT_PAGE, vec![3])]
        );
        let mut quantity_only = entry("oms_product_reservation", 7, keys);
        quantity_only.event = RESERVATION_QUANTITY_EVENT.to_owned();
        assert_eq!(routes(&quantity_only), [to(p::AVAILABILITY, vec![3])]);
    }

    #[test]
    fn unknown_sources_are_dropped() {
        assert!(routes(&entry("tax_set", 1, serde_json::json!({}))).is_empty());
    }
}
