//! What the HTML shop calls an order item's OMS state: its display name from the glossary, as Spryker's
//! shop shows it. The glossary key is `oms.state.<state name>` with the spaces of the name written as
//! `-` (`payment pending` → `oms.state.payment-pending`, Spryker's fallback display-name prefix); a
//! state without a translation in the page's locale is shown by its name.
//!
//! Only the pages change: the JSON:API `orders` resource keeps the state names in `state` and
//! `itemStates` (storefront-api.md §8.11; Spryker's Glue has no display-name field either). Names are
//! read from KV (`translation:<locale>:<key>`), one batch per page or notification. A KV failure costs
//! only the translations: the page shows the state names rather than failing, since the order itself
//! came from the backend.

use crate::catalog::fetch::KvReader;
use crate::catalog::products::{translated, translation_key};
use kontor_domain::gateway::Order;
use kontor_kv::KvStore;
use std::collections::BTreeMap;

/// The glossary key of a state's display name.
pub fn glossary_key(state: &str) -> String {
    format!("oms.state.{}", state.trim().replace(' ', "-"))
}

/// State name → what the customer reads, for every state in `states`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct StateNames(BTreeMap<String, String>);

impl StateNames {
    /// Reads the display names of `states` in `locale` in one KV round trip.
    // A slice, not an iterator: an iterator of closures held in the future would make handlers'
    // futures fail axum's higher-ranked `Send` check.
    pub async fn load(kv: &dyn KvStore, locale: &str, states: &[&str]) -> Self {
        let mut reader = KvReader::new(kv);
        for state in states {
            reader.want(translation_key(locale, &glossary_key(state)));
        }
        if let Err(error) = reader.flush().await {
            // Logged by the reader; the names stand in.
            tracing::debug!(?error, "OMS state names shown untranslated");
        }
        Self(
            states
                .iter()
                .map(|&state| {
                    let shown = translated(&reader, locale, &glossary_key(state))
                        .filter(|text| !text.trim().is_empty())
                        .unwrap_or_else(|| state.to_owned());
                    (state.to_owned(), shown)
                })
                .collect(),
        )
    }

    /// The display names of the item states of `orders`.
    pub async fn of_orders(kv: &dyn KvStore, locale: &str, orders: &[Order]) -> Self {
        let mut states: Vec<&str> = Vec::new();
        for order in orders {
            states.extend(order.item_states.iter().map(String::as_str));
            states.extend(order.items.iter().map(|item| item.state.as_str()));
        }
        states.sort_unstable();
        states.dedup();
        Self::load(kv, locale, &states).await
    }

    /// What the customer reads for `state`.
    pub fn name<'a>(&'a self, state: &'a str) -> &'a str {
        self.0.get(state).map_or(state, String::as_str)
    }

    /// An order's distinct item states as one status text: display names, sorted, joined by `, `.
    pub fn status<'a>(&self, states: impl IntoIterator<Item = &'a str>) -> String {
        let mut shown: Vec<&str> = states.into_iter().map(|state| self.name(state)).collect();
        shown.sort_unstable();
        shown.dedup();
        shown.join(", ")
    }

    /// The status text of an order.
    pub fn order_status(&self, order: &Order) -> String {
        self.status(order.item_states.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_kv::{KvOp, KvOptions, MemoryKv};
    use serde_json::json;

    #[test]
    fn the_key_is_the_state_name_with_dashes_for_spaces() {
        assert_eq!(glossary_key("payment pending"), "oms.state.payment-pending");
        assert_eq!(glossary_key("paid"), "oms.state.paid");
        assert_eq!(
            glossary_key("Gift - return requested"),
            "oms.state.Gift---return-requested"
        );
    }

    #[tokio::test]
    async fn translated_states_show_their_name_in_the_locale_and_others_fall_back() {
        let kv = MemoryKv::new(KvOptions::default());
        let write = |key: &str, value: &str| {
            KvOp::write_document(key, json!({"value": value, "_timestamp": 1.0})).expect("a document")
        };
        kv.apply(&[
            write("translation:de_de:oms.state.payment-pending", "Zahlung ausstehend"),
            write("translation:en_us:oms.state.payment-pending", "Awaiting payment"),
            write("translation:de_de:oms.state.paid", "  "),
        ])
        .await
        .expect("written");
        let names = StateNames::load(&kv, "de_DE", &["payment pending", "paid", "picked"]).await;
        assert_eq!(names.name("payment pending"), "Zahlung ausstehend");
        assert_eq!(names.name("paid"), "paid", "a blank translation is no name");
        assert_eq!(names.name("picked"), "picked", "no glossary entry");
        assert_eq!(names.name("never loaded"), "never loaded");
        assert_eq!(
            names.status(["picked", "payment pending", "picked"]),
            "Zahlung ausstehend, picked"
        );
        let english = StateNames::load(&kv, "en_US", &["payment pending"]).await;
        assert_eq!(english.name("payment pending"), "Awaiting payment");
    }
}
