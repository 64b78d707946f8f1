//! Rules for channel names, kinds, node ids and namespaces, and the physical channel layout
//! `notify:<namespace><channel>`.
//!
//! All four use one alphabet, `a-z 0-9 . _ - :`, so a name can be used unquoted in a Redis channel,
//! a log field, a metric label or a client name (which allows no spaces), and looks the same
//! everywhere. Upper case is refused rather than folded: two spellings of one channel would
//! otherwise be two channels on Redis.

use crate::NotifyError;

/// The longest channel name, kind or node id accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// Every physical channel starts with this, so `PUBSUB CHANNELS notify:*` lists them.
const PHYSICAL_PREFIX: &str = "notify:";

/// Characters shown of a name in an error message; a 10 KB name would drown the message.
const PREVIEW_CHARS: usize = 80;

const ALPHABET_REASON: &str = "only a-z, 0-9, `.`, `_`, `-` and `:` are allowed";

/// Why `name` breaks the rules, or `None` when it is fine. `may_be_empty` is for namespaces.
fn violation(name: &str, may_be_empty: bool) -> Option<&'static str> {
    if name.is_empty() && !may_be_empty {
        return Some("must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Some("must be at most 128 bytes");
    }
    let is_allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-:".contains(&byte);
    if !name.bytes().all(is_allowed) {
        return Some(ALPHABET_REASON);
    }
    None
}

pub(crate) fn validate_channel(channel: &str) -> Result<(), NotifyError> {
    match violation(channel, false) {
        None => Ok(()),
        Some(reason) => Err(NotifyError::InvalidChannel {
            channel: channel.to_owned(),
            reason,
        }),
    }
}

pub(crate) fn validate_kind(kind: &str) -> Result<(), NotifyError> {
    match violation(kind, false) {
        None => Ok(()),
        Some(reason) => Err(NotifyError::InvalidKind {
            kind: kind.to_owned(),
            reason,
        }),
    }
}

pub(crate) fn validate_node_id(node_id: &str) -> Result<(), NotifyError> {
    match violation(node_id, false) {
        None => Ok(()),
        Some(reason) => Err(NotifyError::InvalidNodeId {
            node_id: node_id.to_owned(),
            reason,
        }),
    }
}

pub(crate) fn validate_namespace(namespace: &str) -> Result<(), NotifyError> {
    match violation(namespace, true) {
        None => Ok(()),
        Some(reason) => Err(NotifyError::InvalidNamespace {
            namespace: namespace.to_owned(),
            reason,
        }),
    }
}

/// The prefix `notify:<namespace>` of every physical channel of one namespace.
pub(crate) fn physical_prefix(namespace: &str) -> String {
    format!("{PHYSICAL_PREFIX}{namespace}")
}

/// The start of `name` for error messages, cut at a character boundary.
pub(crate) fn preview(name: &str) -> String {
    match name.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_names_kontor_uses() {
        for name in [
            "order.status_changed",
            "cache.invalidate",
            "storefront:de:en_us",
            "import-42",
            "a",
        ] {
            assert!(validate_channel(name).is_ok(), "{name}");
        }
        assert!(validate_channel(&"c".repeat(MAX_NAME_BYTES)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters() {
        for name in ["", "Order", "a b", "a*", "café", "a/b", "a\nb"] {
            assert!(validate_channel(name).is_err(), "{name:?}");
        }
        assert!(validate_channel(&"c".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn a_namespace_may_be_empty() {
        assert!(validate_namespace("").is_ok());
        assert!(validate_namespace("shop1:").is_ok());
        assert!(validate_namespace("Shop 1").is_err());
    }

    #[test]
    fn errors_name_the_channel_and_the_rule() {
        let message = validate_channel("Order Status").map_err(|error| error.to_string());
        assert_eq!(
            message,
            Err("invalid notification channel `Order Status`: only a-z, 0-9, `.`, `_`, `-` and `:` are allowed".into())
        );
    }

    #[test]
    fn previews_long_names_on_a_char_boundary() {
        let name = "ü".repeat(100);
        let shown = preview(&name);
        assert_eq!(shown.chars().count(), PREVIEW_CHARS + 1);
        assert!(shown.ends_with('…'));
    }
}
