//! The data sets, one type per `data_entity`, and the parsing helpers they share (booleans, amounts,
//! localized columns, attribute pairs, URL slugs).

pub(crate) mod catalog;
pub(crate) mod checkout;
pub(crate) mod commerce;
pub(crate) mod config;
pub(crate) mod customers;
pub(crate) mod images;
pub(crate) mod products;
pub(crate) mod reviews;

use crate::importer::RowError;
use crate::reader::{Header, RowView};
use kontor_core::LocaleName;
use std::collections::BTreeMap;

/// `1`/`0`, `true`/`false`; empty reads as `default`.
pub(crate) fn parse_bool(row: &RowView<'_>, column: &str, default: bool) -> Result<bool, RowError> {
    match row.get(column).unwrap_or("") {
        "" => Ok(default),
        "1" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(RowError::new(
            column,
            format!("\"{other}\" is not a boolean (use 1 or 0)"),
        )),
    }
}

/// An amount in minor units (`12900` = 129.00): a whole number ≥ 0; empty means "no amount".
pub(crate) fn money(row: &RowView<'_>, column: &str) -> Result<Option<i64>, RowError> {
    match row.value(column) {
        None => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(value) if value >= 0 => Ok(Some(value)),
            _ => Err(RowError::new(
                column,
                format!("\"{raw}\" is not an amount in minor units (a whole number ≥ 0, e.g. 12900)"),
            )),
        },
    }
}

/// A required, non-empty field.
pub(crate) fn required<'r>(row: &'r RowView<'_>, column: &str) -> Result<&'r str, RowError> {
    row.value(column)
        .ok_or_else(|| RowError::new(column, "must not be empty"))
}

/// Splits `field.ll_CC` into the field and a valid locale name.
pub(crate) fn localized(column: &str) -> Option<(&str, LocaleName)> {
    let (field, locale) = column.rsplit_once('.')?;
    let locale = LocaleName::parse(locale).ok()?;
    Some((field, locale))
}

/// Whether `column` is `attribute_key_N` / `value_N`, optionally with `.ll_CC`.
pub(crate) fn is_attribute_column(column: &str) -> bool {
    let base = localized(column).map_or(column, |(field, _)| field);
    let number = base
        .strip_prefix("attribute_key_")
        .or_else(|| base.strip_prefix("value_"));
    number.is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
}

/// Locales named by localized columns of the header, and those no store uses (one warning per file).
pub(crate) fn header_locales(
    header: &Header,
    used: &std::collections::HashMap<String, i64>,
    display_note: &mut Vec<String>,
) -> BTreeMap<String, i64> {
    let mut found = BTreeMap::new();
    let mut unused = std::collections::BTreeSet::new();
    for column in &header.names {
        if let Some((_, locale)) = localized(column) {
            match used.get(locale.as_str()) {
                Some(id) => {
                    found.insert(locale.as_str().to_owned(), *id);
                }
                None => {
                    unused.insert(locale.as_str().to_owned());
                }
            }
        }
    }
    for locale in unused {
        display_note.push(format!("columns for locale {locale} skipped: no store uses it"));
    }
    found
}

/// The attribute map of a row: `attribute_key_N`/`value_N` for `suffix` "" or `.ll_CC`. `None` when
/// the header has no such columns (the stored map is then left alone).
pub(crate) fn attributes(row: &RowView<'_>, suffix: &str) -> Result<Option<BTreeMap<String, String>>, RowError> {
    let mut map = BTreeMap::new();
    let mut any = false;
    for column in &row.header.names {
        let Some(rest) = column.strip_prefix("attribute_key_") else {
            continue;
        };
        let Some(number) = (if suffix.is_empty() {
            Some(rest)
        } else {
            rest.strip_suffix(suffix)
        }) else {
            continue;
        };
        if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
            continue;
        }
        any = true;
        let key = row.get(column).unwrap_or("");
        let value_column = format!("value_{number}{suffix}");
        let value = row.get(&value_column).unwrap_or("");
        if key.is_empty() {
            if !value.is_empty() {
                return Err(RowError::new(
                    column.as_str(),
                    format!("empty, but {value_column} has a value"),
                ));
            }
            continue;
        }
        map.insert(key.to_owned(), value.to_owned());
    }
    Ok(any.then_some(map))
}

/// Lower-case ASCII letters and digits joined by `-` (German umlauts transliterated), as URL segments.
pub(crate) fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        match ch {
            'ä' => slug.push_str("ae"),
            'ö' => slug.push_str("oe"),
            'ü' => slug.push_str("ue"),
            'ß' => slug.push_str("ss"),
            c if c.is_ascii_alphanumeric() => slug.push(c),
            _ => slug.push('-'),
        }
    }
    slug.split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// JSON text of an attribute map, as the catalog tables store it.
pub(crate) fn encode_map(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

pub(crate) fn decode_map(raw: &str) -> BTreeMap<String, String> {
    serde_json::from_str(raw).unwrap_or_default()
}

/// Closest known name within a small edit distance (at most 2, less for short names, so that `XX`
/// does not suggest `AT`), for "did you mean" hints.
pub(crate) fn did_you_mean<'a>(wanted: &str, known: impl Iterator<Item = &'a String>) -> String {
    let limit = (wanted.chars().count() / 3).clamp(1, 2);
    let best = known
        .map(|candidate| (distance(wanted, candidate), candidate))
        .filter(|(score, _)| *score <= limit)
        .min();
    best.map(|(_, candidate)| format!(" (did you mean \"{candidate}\"?)"))
        .unwrap_or_default()
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push((previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Loads `name → id` of a whole table.
#[macro_export]
#[doc(hidden)]
macro_rules! name_map {
    ($connection:expr, $entity:path, $field:ident) => {{
        use sea_orm::EntityTrait;
        <$entity>::find()
            .all($connection)
            .await?
            .into_iter()
            .map(|row| (row.$field.clone(), row.id))
            .collect::<std::collections::HashMap<String, i64>>()
    }};
}
