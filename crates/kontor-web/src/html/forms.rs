//! Form handling shared by the HTML surfaces: submitted fields, the errors shown next to each field,
//! and the translation of domain and gateway errors into those messages. A page re-rendered after a
//! failed submission gets both the errors and what the user typed, so nothing has to be typed twice.

use kontor_domain::DomainError;
use kontor_domain::gateway::Rejection;
use serde::Serialize;
use std::collections::BTreeMap;

/// The fields of a submitted form, trimmed. Read from `axum::Form<FormFields>`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct FormFields(pub BTreeMap<String, String>);

impl FormFields {
    /// The trimmed value of `name`, empty when missing.
    pub fn text(&self, name: &str) -> String {
        self.0
            .get(name)
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    }

    /// The fields to show again in the form: everything but secrets and the CSRF token.
    pub fn echo(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter(|(name, _)| !is_secret(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name == super::csrf::FIELD || name.contains("token")
}

/// Messages per field name; [`FORM`] holds those that concern the form as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FormErrors(BTreeMap<String, String>);

/// The key of messages not tied to one field.
pub const FORM: &str = "_form";

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message for `field`; the first message of a field is the one shown.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| message.into());
    }

    /// Adds `message` unless `value` is non-empty.
    pub fn require(&mut self, field: &str, value: &str, message: &str) {
        if value.trim().is_empty() {
            self.add(field, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// The field messages of a domain error; one without a field goes to [`FORM`]. A storage error's
    /// text stays out of the page.
    pub fn from_domain(error: &DomainError) -> Self {
        let mut errors = Self::new();
        match error {
            DomainError::Validation(fields) => {
                for field in fields {
                    errors.add(&field_name(&field.pointer), field.detail.clone());
                }
            }
            DomainError::Conflict { pointer, detail } => errors.add(&field_name(pointer), detail.clone()),
            DomainError::NotFound { resource, id } => errors.add(FORM, format!("{resource} {id} does not exist")),
            DomainError::Unauthorized => errors.add(FORM, "the credentials are not valid"),
            DomainError::Storage(_) => errors.add(FORM, "the change could not be saved; please try again"),
        }
        errors
    }

    /// The field messages of a gateway's rejections (pointers into the storefront request document).
    pub fn from_rejections(rejections: &[Rejection]) -> Self {
        let mut errors = Self::new();
        for rejection in rejections {
            let field = rejection
                .pointer
                .as_deref()
                .map(field_name)
                .unwrap_or_else(|| FORM.to_owned());
            errors.add(&field, rejection.detail.clone());
        }
        errors
    }
}

/// `/data/attributes/address/zipCode` or `/zipCode` → `address.zipCode`; the root pointer is [`FORM`].
pub fn field_name(pointer: &str) -> String {
    let trimmed = pointer.strip_prefix("/data/attributes").unwrap_or(pointer);
    let name = trimmed.trim_start_matches('/').replace('/', ".");
    if name.is_empty() { FORM.to_owned() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_domain::FieldError;

    #[test]
    fn domain_and_gateway_errors_land_on_their_fields() {
        let error = DomainError::Validation(vec![
            FieldError::new("/email", "is not a valid e-mail address"),
            FieldError::new("/email", "second message is not shown"),
            FieldError::new("/localizedAttributes/de_DE/name", "must not be empty"),
        ]);
        let errors = FormErrors::from_domain(&error);
        assert_eq!(errors.get("email"), Some("is not a valid e-mail address"));
        assert_eq!(errors.get("localizedAttributes.de_DE.name"), Some("must not be empty"));
        let errors = FormErrors::from_rejections(&[
            Rejection::new("901", "is too short").at("/data/attributes/password"),
            Rejection::new("400", "the cart is empty"),
        ]);
        assert_eq!(errors.get("password"), Some("is too short"));
        assert_eq!(errors.get(FORM), Some("the cart is empty"));
        assert!(
            FormErrors::from_domain(&DomainError::Storage("db password=x".into()))
                .get(FORM)
                .is_some_and(|m| !m.contains("password"))
        );
    }

    #[test]
    fn secrets_are_not_echoed() {
        let fields = FormFields(
            [
                ("email", " a@b.c "),
                ("password", "pw"),
                ("_csrf", "t"),
                ("apiToken", "x"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        assert_eq!(fields.text("email"), "a@b.c");
        assert_eq!(fields.echo().keys().collect::<Vec<_>>(), ["email"]);
    }
}
