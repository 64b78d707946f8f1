//! Query parameters of list endpoints: `page[offset]`, `page[limit]`, `filter[sku]`, `filter[name]`,
//! `filter[status]`.
//! Anything else is rejected by name, so a typo never silently returns the unfiltered list.

use crate::error::{AppError, ErrorCode};
use kontor_core::PageRequest;
use kontor_domain::ListQuery;

/// Parses a raw query string into a [`ListQuery`].
pub fn parse_list_query(raw: Option<&str>) -> Result<ListQuery, AppError> {
    let mut query = ListQuery::default();
    let mut offset = 0_u64;
    let mut limit = PageRequest::DEFAULT_LIMIT;
    for (key, value) in form_pairs(raw.unwrap_or("")) {
        match key.as_str() {
            "page[offset]" => offset = parse_number(&key, &value)?,
            "page[limit]" => {
                limit = parse_number(&key, &value)?;
                if limit == 0 || limit > PageRequest::MAX_LIMIT {
                    return Err(AppError::at_parameter(
                        ErrorCode::InvalidParameter,
                        key,
                        format!("must be between 1 and {}", PageRequest::MAX_LIMIT),
                    ));
                }
            }
            "filter[sku]" => query.sku = Some(value),
            "filter[name]" => query.name = Some(value),
            "filter[status]" => query.status = Some(value),
            _ => {
                return Err(AppError::at_parameter(
                    ErrorCode::InvalidParameter,
                    key,
                    "unknown query parameter",
                ));
            }
        }
    }
    query.page = PageRequest::new(offset, limit);
    Ok(query)
}

fn parse_number(key: &str, value: &str) -> Result<u64, AppError> {
    value
        .parse()
        .map_err(|_| AppError::at_parameter(ErrorCode::InvalidParameter, key, "must be a non-negative integer"))
}

/// `application/x-www-form-urlencoded` pairs, percent-decoded.
fn form_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (_, Some(value)) => {
                decoded.push(value);
                index += 3;
            }
            (b'+', None) => {
                decoded.push(b' ');
                index += 1;
            }
            (other, None) => {
                decoded.push(other);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_and_filters_parse() {
        let query =
            parse_list_query(Some("page%5Boffset%5D=40&page[limit]=10&filter[name]=k%C3%A4se+blau")).expect("valid");
        assert_eq!(query.page, PageRequest::new(40, 10));
        assert_eq!(query.name.as_deref(), Some("käse blau"));
        assert_eq!(parse_list_query(None).expect("empty").page, PageRequest::default());
    }

    #[test]
    fn bad_parameters_are_named() {
        for (raw, parameter) in [
            ("page[limit]=0", "page[limit]"),
            ("page[limit]=501", "page[limit]"),
            ("page[offset]=-1", "page[offset]"),
            ("filter[colour]=red", "filter[colour]"),
            ("%ZZ=1", "%ZZ"),
        ] {
            let error = parse_list_query(Some(raw)).expect_err(raw);
            assert_eq!(
                error.errors()[0].source,
                Some(crate::error::ErrorSource::Parameter(parameter.into())),
                "{raw}"
            );
        }
    }
}
