//! Small checks shared by the resource validators; each pushes a [`FieldError`] naming its field.

use crate::FieldError;

/// Collects field errors for one resource.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    pub errors: Vec<FieldError>,
}

impl Checks {
    pub fn fail(&mut self, pointer: impl Into<String>, detail: impl Into<String>) {
        self.errors.push(FieldError::new(pointer, detail));
    }

    /// Non-empty after trimming and at most `max` characters.
    pub fn text(&mut self, pointer: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.fail(pointer, "must not be empty");
        } else if value.chars().count() > max {
            self.fail(pointer, format!("must be at most {max} characters long"));
        }
    }

    pub fn optional_text(&mut self, pointer: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value
            && value.chars().count() > max
        {
            self.fail(pointer, format!("must be at most {max} characters long"));
        }
    }

    /// A machine key: 1–255 characters of lower-case letters, digits and `_ - .`.
    pub fn key(&mut self, pointer: &str, value: &str) {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c);
        if value.is_empty() || value.len() > 255 || !value.chars().all(allowed) {
            self.fail(pointer, "must be 1 to 255 lower-case letters, digits, _, - or .");
        }
    }

    /// A storefront URL path such as `/de/kamera-123`.
    pub fn url_path(&mut self, pointer: &str, value: &str) {
        if !value.starts_with('/') || value.len() > 255 || value.chars().any(char::is_whitespace) {
            self.fail(
                pointer,
                "must be a path starting with / of at most 255 characters, without spaces",
            );
        }
    }

    /// No value listed twice.
    pub fn unique<T: PartialEq + std::fmt::Display>(&mut self, pointer: &str, values: &[T]) {
        for (index, value) in values.iter().enumerate() {
            if values[..index].contains(value) {
                self.fail(format!("{pointer}/{index}"), format!("{value} is listed twice"));
            }
        }
    }

    /// Product attribute maps: keys are attribute keys, values short texts.
    pub fn attribute_map(&mut self, pointer: &str, map: &std::collections::BTreeMap<String, String>) {
        for (key, value) in map {
            self.key(&format!("{pointer}/{key}"), key);
            if value.chars().count() > 1024 {
                self.fail(format!("{pointer}/{key}"), "must be at most 1024 characters long");
            }
        }
    }

    pub fn finish(self) -> Vec<FieldError> {
        self.errors
    }
}

/// Turns a display name into a URL slug: lower-case ASCII letters and digits joined by `-`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        let mapped = match ch {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            c if c.is_ascii_alphanumeric() => {
                slug.push(c);
                continue;
            }
            _ => "-",
        };
        slug.push_str(mapped);
    }
    let parts: Vec<&str> = slug.split('-').filter(|part| !part.is_empty()).collect();
    parts.join("-")
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_lower_case_ascii() {
        assert_eq!(slugify("Canon IXUS 285 — Schwarz"), "canon-ixus-285-schwarz");
        assert_eq!(slugify("Größe & Gewicht"), "groesse-gewicht");
        assert_eq!(slugify("  "), "");
    }
}
