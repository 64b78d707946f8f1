//! The rules of customer and address input (storefront-api.md §8.1–§8.2). Every check adds to one
//! list, so a client learns about all its mistakes at once; each rejection names its field with a
//! pointer into the storefront request document (`/data/attributes/password`).

use super::countries;
use super::ports::ProfileFields;
use crate::gateway::{Address, AddressChanges, AddressInput, CustomerChanges, Registration, Rejection};
use crate::users::{Email, MIN_PASSWORD_LENGTH};
use chrono::NaiveDate;

pub const SALUTATIONS: &[&str] = &["Mr", "Mrs", "Ms", "Dr"];
pub const GENDERS: &[&str] = &["Male", "Female", "Diverse"];
/// Longer passwords buy nothing and make hashing a denial-of-service lever.
pub const MAX_PASSWORD_LENGTH: usize = 128;
const MAX_NAME_LENGTH: usize = 100;
const MAX_TEXT_LENGTH: usize = 255;
const MAX_ZIP_CODE_LENGTH: usize = 32;

/// Glue's code for invalid login or registration data.
pub const INVALID: &str = "901";
/// Glue's code for a password and its confirmation that differ.
pub const PASSWORDS_DIFFER: &str = "406";

/// The pointer of a request attribute.
pub fn at(field: &str) -> String {
    format!("/data/attributes/{field}")
}

/// The rejections collected for one request.
#[derive(Debug, Default)]
pub struct Problems {
    rejections: Vec<Rejection>,
}

impl Problems {
    pub fn push(&mut self, code: &str, field: &str, detail: impl Into<String>) {
        self.rejections.push(Rejection::new(code, detail).at(&at(field)));
    }

    fn invalid(&mut self, field: &str, detail: impl Into<String>) {
        self.push(INVALID, field, detail);
    }

    pub fn is_empty(&self) -> bool {
        self.rejections.is_empty()
    }

    pub fn into_rejections(self) -> Vec<Rejection> {
        self.rejections
    }

    fn one_of(&mut self, field: &str, value: &str, allowed: &[&str]) -> String {
        let value = value.trim();
        if !allowed.contains(&value) {
            self.invalid(field, format!("must be one of {}", allowed.join(", ")));
        }
        value.to_owned()
    }

    /// Non-empty after trimming and at most `max` characters; answers the trimmed text.
    fn required_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.invalid(field, "must not be empty");
        } else if value.chars().count() > max {
            self.invalid(field, format!("must be at most {max} characters long"));
        }
        value.to_owned()
    }

    /// Trimmed; empty means absent.
    fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = value.map(str::trim).filter(|value| !value.is_empty())?;
        if value.chars().count() > max {
            self.invalid(field, format!("must be at most {max} characters long"));
        }
        Some(value.to_owned())
    }

    fn email(&mut self, field: &str, raw: &str) -> Option<Email> {
        match Email::parse(raw) {
            Ok(email) => Some(email),
            Err(_) => {
                self.invalid(field, "is not a valid e-mail address");
                None
            }
        }
    }

    /// Empty means no gender.
    fn gender(&mut self, raw: Option<&str>) -> Option<String> {
        let value = raw.map(str::trim).filter(|value| !value.is_empty())?;
        Some(self.one_of("gender", value, GENDERS))
    }

    /// `YYYY-MM-DD`, before `today`; empty means no date.
    fn date_of_birth(&mut self, raw: Option<&str>, today: NaiveDate) -> Option<String> {
        let value = raw.map(str::trim).filter(|value| !value.is_empty())?;
        match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            Ok(date) if value.len() == 10 && date < today => Some(date.format("%Y-%m-%d").to_string()),
            Ok(_) if value.len() == 10 => {
                self.invalid("dateOfBirth", "must be in the past");
                None
            }
            _ => {
                self.invalid("dateOfBirth", "must be a date in the form YYYY-MM-DD");
                None
            }
        }
    }

    /// A new password and its confirmation: length rules at `password_field`, a mismatch (`406`) at
    /// `confirm_field`.
    pub fn new_password(&mut self, password_field: &str, password: &str, confirm_field: &str, confirm: &str) {
        let length = password.chars().count();
        if length < MIN_PASSWORD_LENGTH {
            self.invalid(
                password_field,
                format!("must be at least {MIN_PASSWORD_LENGTH} characters long"),
            );
        } else if length > MAX_PASSWORD_LENGTH {
            self.invalid(
                password_field,
                format!("must be at most {MAX_PASSWORD_LENGTH} characters long"),
            );
        }
        if password != confirm {
            self.push(
                PASSWORDS_DIFFER,
                confirm_field,
                "the password and its confirmation do not match",
            );
        }
    }
}

/// Checks a registration; the profile is only returned when every field is valid (the password is
/// checked here too but stays with the caller).
pub fn registration(registration: &Registration, today: NaiveDate, problems: &mut Problems) -> Option<ProfileFields> {
    let salutation = problems.one_of("salutation", &registration.salutation, SALUTATIONS);
    let first_name = problems.required_text("firstName", &registration.first_name, MAX_NAME_LENGTH);
    let last_name = problems.required_text("lastName", &registration.last_name, MAX_NAME_LENGTH);
    let email = problems.email("email", &registration.email);
    problems.new_password(
        "password",
        registration.password.expose(),
        "confirmPassword",
        registration.confirm_password.expose(),
    );
    if !registration.accepted_terms {
        problems.invalid("acceptedTerms", "the terms must be accepted");
    }
    let gender = problems.gender(registration.gender.as_deref());
    let date_of_birth = problems.date_of_birth(registration.date_of_birth.as_deref(), today);
    let email = email?;
    problems.is_empty().then_some(ProfileFields {
        email,
        salutation,
        first_name,
        last_name,
        gender,
        date_of_birth,
    })
}

/// Applies profile changes to the current profile, checking each given field like a registration
/// does. An empty `gender` or `dateOfBirth` clears it.
pub fn profile_changes(
    current: &ProfileFields,
    changes: &CustomerChanges,
    today: NaiveDate,
    problems: &mut Problems,
) -> Option<ProfileFields> {
    let mut profile = current.clone();
    if let Some(salutation) = &changes.salutation {
        profile.salutation = problems.one_of("salutation", salutation, SALUTATIONS);
    }
    if let Some(first_name) = &changes.first_name {
        profile.first_name = problems.required_text("firstName", first_name, MAX_NAME_LENGTH);
    }
    if let Some(last_name) = &changes.last_name {
        profile.last_name = problems.required_text("lastName", last_name, MAX_NAME_LENGTH);
    }
    if let Some(email) = &changes.email
        && let Some(email) = problems.email("email", email)
    {
        profile.email = email;
    }
    if let Some(gender) = &changes.gender {
        profile.gender = problems.gender(Some(gender));
    }
    if let Some(date_of_birth) = &changes.date_of_birth {
        profile.date_of_birth = problems.date_of_birth(Some(date_of_birth), today);
    }
    problems.is_empty().then_some(profile)
}

/// `iso2Code`: two letters, answered upper-case.
fn iso2_code(problems: &mut Problems, raw: &str) -> String {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        problems.invalid("iso2Code", "must be a two-letter ISO 3166-1 country code");
    }
    code
}

/// The shown country: the given name, else the name of the code.
fn country(problems: &mut Problems, given: Option<&str>, iso2_code: &str) -> String {
    problems
        .optional_text("country", given, MAX_TEXT_LENGTH)
        .unwrap_or_else(|| countries::name_of(iso2_code).to_owned())
}

/// Checks a new address; `id` is left empty for the caller to fill.
pub fn new_address(input: &AddressInput, problems: &mut Problems) -> Option<Address> {
    let iso2_code = iso2_code(problems, &input.iso2_code);
    let address = Address {
        id: String::new(),
        salutation: problems.one_of("salutation", &input.salutation, SALUTATIONS),
        first_name: problems.required_text("firstName", &input.first_name, MAX_NAME_LENGTH),
        last_name: problems.required_text("lastName", &input.last_name, MAX_NAME_LENGTH),
        address1: problems.required_text("address1", &input.address1, MAX_TEXT_LENGTH),
        address2: problems.optional_text("address2", input.address2.as_deref(), MAX_TEXT_LENGTH),
        address3: problems.optional_text("address3", input.address3.as_deref(), MAX_TEXT_LENGTH),
        zip_code: problems.required_text("zipCode", &input.zip_code, MAX_ZIP_CODE_LENGTH),
        city: problems.required_text("city", &input.city, MAX_TEXT_LENGTH),
        country: country(problems, input.country.as_deref(), &iso2_code),
        iso2_code,
        company: problems.optional_text("company", input.company.as_deref(), MAX_TEXT_LENGTH),
        phone: problems.optional_text("phone", input.phone.as_deref(), MAX_TEXT_LENGTH),
        is_default_shipping: input.is_default_shipping,
        is_default_billing: input.is_default_billing,
    };
    problems.is_empty().then_some(address)
}

/// Applies address changes; a new `iso2Code` without a `country` also renames the country.
pub fn address_changes(current: &Address, changes: &AddressChanges, problems: &mut Problems) -> Option<Address> {
    let mut address = current.clone();
    if let Some(salutation) = &changes.salutation {
        address.salutation = problems.one_of("salutation", salutation, SALUTATIONS);
    }
    let required = [
        (
            "firstName",
            &changes.first_name,
            &mut address.first_name,
            MAX_NAME_LENGTH,
        ),
        ("lastName", &changes.last_name, &mut address.last_name, MAX_NAME_LENGTH),
        ("address1", &changes.address1, &mut address.address1, MAX_TEXT_LENGTH),
        ("zipCode", &changes.zip_code, &mut address.zip_code, MAX_ZIP_CODE_LENGTH),
        ("city", &changes.city, &mut address.city, MAX_TEXT_LENGTH),
    ];
    for (field, change, target, max) in required {
        if let Some(value) = change {
            *target = problems.required_text(field, value, max);
        }
    }
    let optional = [
        ("address2", &changes.address2, &mut address.address2),
        ("address3", &changes.address3, &mut address.address3),
        ("company", &changes.company, &mut address.company),
        ("phone", &changes.phone, &mut address.phone),
    ];
    for (field, change, target) in optional {
        if let Some(value) = change {
            *target = problems.optional_text(field, Some(value), MAX_TEXT_LENGTH);
        }
    }
    if let Some(code) = &changes.iso2_code {
        address.iso2_code = iso2_code(problems, code);
        if changes.country.is_none() {
            address.country = countries::name_of(&address.iso2_code).to_owned();
        }
    }
    if let Some(country_name) = &changes.country {
        address.country = country(problems, Some(country_name), &address.iso2_code);
    }
    if let Some(flag) = changes.is_default_shipping {
        address.is_default_shipping = flag;
    }
    if let Some(flag) = changes.is_default_billing {
        address.is_default_billing = flag;
    }
    problems.is_empty().then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Secret;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("valid date")
    }

    fn registration_input() -> Registration {
        Registration {
            salutation: "Ms".to_owned(),
            first_name: " Erika ".to_owned(),
            last_name: "Mustermann".to_owned(),
            email: "Erika@Example.com".to_owned(),
            password: Secret("correct horse battery".to_owned()),
            confirm_password: Secret("correct horse battery".to_owned()),
            accepted_terms: true,
            gender: Some("Female".to_owned()),
            date_of_birth: Some("1990-04-01".to_owned()),
        }
    }

    fn pointers(problems: Problems) -> Vec<(String, String)> {
        problems
            .into_rejections()
            .into_iter()
            .map(|rejection| (rejection.code, rejection.pointer.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_valid_registration_is_normalised() {
        let mut problems = Problems::default();
        let profile = registration(&registration_input(), today(), &mut problems).expect("valid");
        assert_eq!(profile.first_name, "Erika");
        assert_eq!(profile.email.as_str(), "erika@example.com");
        assert_eq!(profile.date_of_birth.as_deref(), Some("1990-04-01"));
        assert!(problems.is_empty());
    }

    #[test]
    fn every_registration_mistake_is_reported_at_once() {
        let input = Registration {
            salutation: "Sir".to_owned(),
            first_name: " ".to_owned(),
            last_name: "x".repeat(101),
            email: "not-an-email".to_owned(),
            password: Secret("short".to_owned()),
            confirm_password: Secret("other".to_owned()),
            accepted_terms: false,
            gender: Some("Robot".to_owned()),
            date_of_birth: Some("2030-01-01".to_owned()),
        };
        let mut problems = Problems::default();
        assert!(registration(&input, today(), &mut problems).is_none());
        let found = pointers(problems);
        let expected: Vec<(String, String)> = [
            ("901", "salutation"),
            ("901", "firstName"),
            ("901", "lastName"),
            ("901", "email"),
            ("901", "password"),
            ("406", "confirmPassword"),
            ("901", "acceptedTerms"),
            ("901", "gender"),
            ("901", "dateOfBirth"),
        ]
        .iter()
        .map(|(code, field)| ((*code).to_owned(), at(field)))
        .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn dates_of_birth_must_be_real_past_dates() {
        for bad in ["1990-02-30", "90-01-01", "1990/01/01", "2026-11-25", "1990-1-1"] {
            let mut problems = Problems::default();
            assert_eq!(problems.date_of_birth(Some(bad), today()), None, "{bad}");
            assert!(!problems.is_empty(), "{bad}");
        }
        let mut problems = Problems::default();
        assert_eq!(problems.date_of_birth(Some(""), today()), None);
        assert!(problems.is_empty());
    }

    #[test]
    fn profile_changes_touch_only_given_fields() {
        let mut problems = Problems::default();
        let current = registration(&registration_input(), today(), &mut problems).expect("valid");
        let changes = CustomerChanges {
            last_name: Some("Musterfrau".to_owned()),
            gender: Some(String::new()),
            ..CustomerChanges::default()
        };
        let changed = profile_changes(&current, &changes, today(), &mut problems).expect("valid");
        assert_eq!(changed.last_name, "Musterfrau");
        assert_eq!(changed.first_name, "Erika");
        assert_eq!(changed.gender, None);
        let bad = CustomerChanges {
            email: Some("nope".to_owned()),
            ..CustomerChanges::default()
        };
        assert!(profile_changes(&current, &bad, today(), &mut problems).is_none());
        assert_eq!(pointers(problems), vec![("901".to_owned(), at("email"))]);
    }

    fn address_input() -> AddressInput {
        AddressInput {
            salutation: "Ms".to_owned(),
            first_name: "Erika".to_owned(),
            last_name: "Muster".to_owned(),
            address1: "Hauptstraße".to_owned(),
            address2: Some("5".to_owned()),
            zip_code: "10115".to_owned(),
            city: "Berlin".to_owned(),
            iso2_code: "de".to_owned(),
            ..AddressInput::default()
        }
    }

    #[test]
    fn addresses_derive_the_country_and_upper_case_the_code() {
        let mut problems = Problems::default();
        let address = new_address(&address_input(), &mut problems).expect("valid");
        assert_eq!(address.iso2_code, "DE");
        assert_eq!(address.country, "Germany");
        let changes = AddressChanges {
            iso2_code: Some("at".to_owned()),
            address2: Some(String::new()),
            ..AddressChanges::default()
        };
        let changed = address_changes(&address, &changes, &mut problems).expect("valid");
        assert_eq!(
            (changed.iso2_code.as_str(), changed.country.as_str()),
            ("AT", "Austria")
        );
        assert_eq!(changed.address2, None);
    }

    #[test]
    fn address_mistakes_point_at_their_fields() {
        let input = AddressInput {
            iso2_code: "DEU".to_owned(),
            ..AddressInput::default()
        };
        let mut problems = Problems::default();
        assert!(new_address(&input, &mut problems).is_none());
        let fields: Vec<String> = pointers(problems).into_iter().map(|(_, pointer)| pointer).collect();
        for field in [
            "iso2Code",
            "salutation",
            "firstName",
            "lastName",
            "address1",
            "zipCode",
            "city",
        ] {
            assert!(fields.contains(&at(field)), "{field}: {fields:?}");
        }
    }
}
