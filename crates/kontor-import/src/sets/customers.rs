//! `customer.csv`: customer accounts, upserted by `customer_reference` (spec §2, entity 29).
//!
//! Columns: `customer_reference,locale_name,phone,email,salutation,first_name,last_name,company,gender,
//! date_of_birth,password,registered`. `phone` and `company` have no place in Kontor's customer table
//! and are skipped with a note. The store of a customer is the store code the reference starts with
//! (`DE--1` → `DE`); a reference without one takes the first store that uses `locale_name`.
//!
//! Rules checked before anything is written: references and e-mail addresses (case-insensitively)
//! are unique in the file, and an e-mail already stored for another reference is a row error;
//! `salutation` is one of `Mr|Mrs|Ms|Dr`, `gender` one of `Male|Female|Diverse` or empty (both
//! matched case-insensitively and stored in that spelling), `date_of_birth` is `YYYY-MM-DD` (not in
//! the future) or empty, `registered` a date (`YYYY-MM-DD`, optionally with a time) or empty.
//! The reference of an anonymised (deleted) account is never reused.
//!
//! Passwords: a bcrypt hash (`$2y$`, `$2a$`, `$2b$`, as Spryker's demo data has) or an argon2 PHC
//! string is stored as it is; sign-in verifies it and replaces bcrypt by argon2id. Any other value is
//! a plain-text password and is stored as its argon2id hash. Empty means no usable password: the
//! account gets the same unusable marker deleted accounts get, and the customer has to reset it.
//! A file never replaces a usable stored password (the customer may have changed it, or sign-in may
//! have re-hashed it): the password is written when the customer is created, or when the stored
//! account has no usable password yet.
//!
//! Re-importing a file changes nothing: each batch loads the stored rows of its references and
//! writes only the rows that differ. After each batch the store's `customer_reference_sequence` is
//! advanced past the imported `STORE--N` numbers, so registrations continue after them. Customers
//! are not storefront data: no outbox rows.

use super::config::lookup;
use super::required;
use crate::importer::{Batch, ColumnKind, DataSet, Outcome, RowError};
use crate::name_map;
use crate::reader::{Header, RowView};
use chrono::{NaiveDate, NaiveDateTime, Utc};
use kontor_core::LocaleName;
use kontor_db::entity::customers::{customer, customer_reference_sequence};
use kontor_db::entity::{locale, store, store_locale};
use kontor_domain::customer::secrets::{UNUSABLE_HASH, hash_password};
use kontor_domain::customer::validation::{GENDERS, SALUTATIONS};
use kontor_domain::users::Email;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Columns stored or checked.
const USED: &[&str] = &[
    "customer_reference",
    "locale_name",
    "email",
    "salutation",
    "first_name",
    "last_name",
    "gender",
    "date_of_birth",
    "password",
    "registered",
];
/// Spryker columns Kontor's customer table has no place for.
const IGNORED: &[&str] = &["phone", "company"];

/// The `password` field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Password {
    /// No `password` column: nothing to say (a new account gets no usable password).
    Absent,
    /// Empty: no usable password.
    Empty,
    /// A bcrypt or argon2 hash, stored as it is.
    Hash(String),
    /// Plain text, stored as its argon2id hash.
    Plain(String),
}

/// One accepted row. `Option<Option<_>>` fields are `None` when the column is absent (stored value
/// kept) and `Some(None)` when present but empty (cleared).
pub(crate) struct CustomerRow {
    reference: String,
    store_id: i64,
    /// The `N` of a `STORE--N` reference whose prefix is the customer's store.
    number: Option<i64>,
    email: String,
    salutation: String,
    first_name: String,
    last_name: String,
    gender: Option<Option<String>>,
    date_of_birth: Option<Option<String>>,
    password: Password,
    /// `registered` in microseconds since the epoch.
    registered: Option<i64>,
}

/// `customer.csv`.
pub(crate) struct Customers {
    stores: HashMap<String, i64>,
    /// Locale name → the first store (by id, then position) that uses it.
    locale_stores: HashMap<String, i64>,
    /// Stored e-mail (lower-case) → reference.
    stored_emails: HashMap<String, String>,
    /// References of anonymised accounts.
    deleted: HashSet<String>,
    seen_references: HashMap<String, u64>,
    seen_emails: HashMap<String, (String, u64)>,
    today: NaiveDate,
}

/// `value` matched case-insensitively against `allowed`, returned in the allowed spelling.
fn one_of(column: &str, value: &str, allowed: &[&str]) -> Result<String, RowError> {
    allowed
        .iter()
        .find(|candidate| candidate.eq_ignore_ascii_case(value))
        .map(|found| (*found).to_owned())
        .ok_or_else(|| RowError::new(column, format!("\"{value}\" is not one of {}", allowed.join(", "))))
}

/// Whether `raw` has the shape of a bcrypt hash: `$2y$NN$` and 53 characters of bcrypt's base64.
fn is_bcrypt(raw: &str) -> bool {
    let Some(rest) = ["$2y$", "$2a$", "$2b$"]
        .iter()
        .find_map(|prefix| raw.strip_prefix(prefix))
    else {
        return false;
    };
    let Some((cost, body)) = rest.split_once('$') else {
        return false;
    };
    cost.len() == 2
        && cost.bytes().all(|byte| byte.is_ascii_digit())
        && body.len() == 53
        && body
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'/')
}

/// Whether `raw` has the shape of an argon2 PHC string: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
fn is_argon2(raw: &str) -> bool {
    let parts: Vec<&str> = raw.split('$').collect();
    parts.len() == 6
        && parts[0].is_empty()
        && matches!(parts[1], "argon2id" | "argon2i" | "argon2d")
        && parts[2].starts_with("v=")
        && parts[3].starts_with("m=")
        && parts[4..].iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/')
        })
}

fn password(row: &RowView<'_>) -> Result<Password, RowError> {
    let Some(raw) = row.get("password") else {
        return Ok(Password::Absent);
    };
    if raw.is_empty() {
        return Ok(Password::Empty);
    }
    if is_bcrypt(raw) || is_argon2(raw) {
        return Ok(Password::Hash(raw.to_owned()));
    }
    if raw.starts_with("$2") || raw.starts_with("$argon2") {
        return Err(RowError::new(
            "password",
            "looks like a bcrypt or argon2 hash but is malformed",
        ));
    }
    Ok(Password::Plain(raw.to_owned()))
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or RFC 3339, as microseconds since the epoch (UTC).
fn registered(row: &RowView<'_>) -> Result<Option<i64>, RowError> {
    let Some(raw) = row.value("registered") else {
        return Ok(None);
    };
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .or_else(|| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S").ok())
        .map(|at| at.and_utc())
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|at| at.with_timezone(&Utc))
        });
    parsed.map(|at| Some(at.timestamp_micros())).ok_or_else(|| {
        RowError::new(
            "registered",
            format!("\"{raw}\" is not a date (YYYY-MM-DD, optionally with a time)"),
        )
    })
}

impl Customers {
    /// The store and sequence number of a reference.
    fn store_of(&self, reference: &str, row: &RowView<'_>) -> Result<(i64, Option<i64>), RowError> {
        if let Some((prefix, number)) = reference.split_once("--")
            && let Some(store_id) = self.stores.get(prefix)
        {
            let number = number
                .parse::<i64>()
                .ok()
                .filter(|parsed| *parsed > 0 && parsed.to_string() == number);
            return Ok((*store_id, number));
        }
        match row.value("locale_name") {
            Some(locale) => self
                .locale_stores
                .get(locale)
                .map(|store_id| (*store_id, None))
                .ok_or_else(|| {
                    RowError::new(
                        "locale_name",
                        format!(
                            "the reference \"{reference}\" names no store (e.g. DE--1) and no store uses locale \"{locale}\""
                        ),
                    )
                }),
            None => {
                let prefix = reference.split_once("--").map_or(reference, |(prefix, _)| prefix);
                lookup(&self.stores, "customer_reference", "store", prefix).map(|store_id| (store_id, None))
            }
        }
    }
}

impl DataSet for Customers {
    type Row = CustomerRow;
    const REQUIRED: &'static [&'static str] = &["customer_reference", "email", "salutation", "first_name", "last_name"];

    fn column_kind(column: &str) -> ColumnKind {
        if USED.contains(&column) {
            ColumnKind::Used
        } else if IGNORED.contains(&column) {
            ColumnKind::Ignored
        } else {
            ColumnKind::Unknown
        }
    }

    async fn prepare(connection: &DatabaseTransaction, _: &Header, _: &mut Vec<String>) -> Result<Self, DbErr> {
        let locales: HashMap<i64, String> = name_map!(connection, locale::Entity, name)
            .into_iter()
            .map(|(name, id)| (id, name))
            .collect();
        let mut locale_stores = HashMap::new();
        for link in store_locale::Entity::find()
            .order_by_asc(store_locale::Column::StoreId)
            .order_by_asc(store_locale::Column::Position)
            .all(connection)
            .await?
        {
            if let Some(name) = locales.get(&link.locale_id) {
                locale_stores.entry(name.clone()).or_insert(link.store_id);
            }
        }
        let stored: Vec<(String, String, Option<i64>)> = customer::Entity::find()
            .select_only()
            .column(customer::Column::CustomerReference)
            .column(customer::Column::Email)
            .column(customer::Column::DeletedAt)
            .into_tuple()
            .all(connection)
            .await?;
        let mut stored_emails = HashMap::new();
        let mut deleted = HashSet::new();
        for (reference, email, deleted_at) in stored {
            if deleted_at.is_some() {
                deleted.insert(reference);
            } else {
                stored_emails.insert(email.to_lowercase(), reference);
            }
        }
        Ok(Self {
            stores: name_map!(connection, store::Entity, name),
            locale_stores,
            stored_emails,
            deleted,
            seen_references: HashMap::new(),
            seen_emails: HashMap::new(),
            today: Utc::now().date_naive(),
        })
    }

    fn begin_pass(&mut self) {
        self.seen_references.clear();
        self.seen_emails.clear();
    }

    fn parse(&mut self, row: &RowView<'_>, _: &mut Vec<RowError>) -> Result<CustomerRow, RowError> {
        let reference = required(row, "customer_reference")?.to_owned();
        if let Some(first) = self.seen_references.get(&reference) {
            return Err(RowError::new(
                "customer_reference",
                format!("\"{reference}\" appears twice in the file (first on line {first})"),
            ));
        }
        if self.deleted.contains(&reference) {
            return Err(RowError::new(
                "customer_reference",
                format!("\"{reference}\" belonged to a deleted (anonymised) account and cannot be reused"),
            ));
        }
        if let Some(locale) = row.value("locale_name") {
            LocaleName::parse(locale).map_err(|error| RowError::new("locale_name", error.0))?;
        }
        let (store_id, number) = self.store_of(&reference, row)?;
        let raw_email = required(row, "email")?;
        let email = Email::parse(raw_email)
            .map_err(|_| RowError::new("email", format!("\"{raw_email}\" is not a valid e-mail address")))?
            .as_str()
            .to_owned();
        if let Some((other, line)) = self.seen_emails.get(&email)
            && *other != reference
        {
            return Err(RowError::new(
                "email",
                format!("\"{email}\" is already used by \"{other}\" on line {line}"),
            ));
        }
        if let Some(owner) = self.stored_emails.get(&email)
            && *owner != reference
        {
            return Err(RowError::new(
                "email",
                format!("\"{email}\" is already used by customer \"{owner}\""),
            ));
        }
        let salutation = one_of("salutation", required(row, "salutation")?, SALUTATIONS)?;
        let first_name = required(row, "first_name")?.to_owned();
        let last_name = required(row, "last_name")?.to_owned();
        let gender = match row.get("gender") {
            None => None,
            Some("") => Some(None),
            Some(raw) => Some(Some(one_of("gender", raw, GENDERS)?)),
        };
        let date_of_birth = match row.get("date_of_birth") {
            None => None,
            Some("") => Some(None),
            Some(raw) => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(date) if date <= self.today => Some(Some(date.format("%Y-%m-%d").to_string())),
                Ok(_) => return Err(RowError::new("date_of_birth", format!("{raw} is in the future"))),
                Err(_) => {
                    return Err(RowError::new(
                        "date_of_birth",
                        format!("\"{raw}\" is not a date (YYYY-MM-DD)"),
                    ));
                }
            },
        };
        let password = password(row)?;
        let registered = registered(row)?;
        self.seen_references.insert(reference.clone(), row.line);
        self.seen_emails.insert(email.clone(), (reference.clone(), row.line));
        Ok(CustomerRow {
            reference,
            store_id,
            number,
            email,
            salutation,
            first_name,
            last_name,
            gender,
            date_of_birth,
            password,
            registered,
        })
    }

    async fn write(
        &mut self,
        transaction: &DatabaseTransaction,
        rows: Vec<CustomerRow>,
        batch: &mut Batch,
    ) -> Result<(), DbErr> {
        let references: Vec<&str> = rows.iter().map(|row| row.reference.as_str()).collect();
        let stored: HashMap<String, customer::Model> = customer::Entity::find()
            .filter(customer::Column::CustomerReference.is_in(references))
            .all(transaction)
            .await?
            .into_iter()
            .map(|model| (model.customer_reference.clone(), model))
            .collect();
        let mut new_rows = Vec::new();
        let mut numbers: BTreeMap<i64, i64> = BTreeMap::new();
        for row in rows {
            if let Some(number) = row.number {
                let highest = numbers.entry(row.store_id).or_insert(number);
                *highest = (*highest).max(number);
            }
            match stored.get(&row.reference) {
                None => {
                    let password_hash = new_hash(&row.password)?.unwrap_or_else(|| UNUSABLE_HASH.to_owned());
                    new_rows.push(customer::ActiveModel {
                        id: NotSet,
                        customer_reference: Set(row.reference),
                        store_id: Set(row.store_id),
                        email: Set(row.email),
                        salutation: Set(row.salutation),
                        first_name: Set(row.first_name),
                        last_name: Set(row.last_name),
                        gender: Set(row.gender.flatten()),
                        date_of_birth: Set(row.date_of_birth.flatten()),
                        password_hash: Set(password_hash),
                        deleted_at: Set(None),
                        created_at: Set(row.registered.unwrap_or(batch.now)),
                        updated_at: Set(batch.now),
                    });
                    batch.count(Outcome::Inserted);
                }
                Some(found) => {
                    let outcome = update(transaction, found, row, batch.now).await?;
                    batch.count(outcome);
                }
            }
        }
        for chunk in new_rows.chunks(200) {
            customer::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(transaction)
                .await?;
        }
        for (store_id, number) in numbers {
            advance_sequence(transaction, store_id, number).await?;
        }
        Ok(())
    }
}

/// The hash to store for a file's password; `None` when it gives no usable password.
fn new_hash(password: &Password) -> Result<Option<String>, DbErr> {
    match password {
        Password::Absent | Password::Empty => Ok(None),
        Password::Hash(hash) => Ok(Some(hash.clone())),
        Password::Plain(plain) => hash_password(plain)
            .map(Some)
            .map_err(|error| DbErr::Custom(format!("hashing an imported password failed: {error}"))),
    }
}

/// Updates a stored customer where the row differs; a usable stored password is kept.
async fn update(
    transaction: &DatabaseTransaction,
    found: &customer::Model,
    row: CustomerRow,
    now: i64,
) -> Result<Outcome, DbErr> {
    let mut changes = customer::ActiveModel {
        id: Set(found.id),
        ..Default::default()
    };
    let mut changed = false;
    if found.store_id != row.store_id {
        changes.store_id = Set(row.store_id);
        changed = true;
    }
    for (stored, wanted, column) in [
        (&found.email, row.email, &mut changes.email),
        (&found.salutation, row.salutation, &mut changes.salutation),
        (&found.first_name, row.first_name, &mut changes.first_name),
        (&found.last_name, row.last_name, &mut changes.last_name),
    ] {
        if *stored != wanted {
            *column = Set(wanted);
            changed = true;
        }
    }
    for (stored, wanted, column) in [
        (&found.gender, row.gender, &mut changes.gender),
        (&found.date_of_birth, row.date_of_birth, &mut changes.date_of_birth),
    ] {
        if let Some(wanted) = wanted
            && *stored != wanted
        {
            *column = Set(wanted);
            changed = true;
        }
    }
    if let Some(registered) = row.registered
        && registered != found.created_at
    {
        changes.created_at = Set(registered);
        changed = true;
    }
    if found.password_hash == UNUSABLE_HASH
        && let Some(hash) = new_hash(&row.password)?
    {
        changes.password_hash = Set(hash);
        changed = true;
    }
    if !changed {
        return Ok(Outcome::Unchanged);
    }
    changes.updated_at = Set(now);
    customer::Entity::update(changes).exec(transaction).await?;
    Ok(Outcome::Updated)
}

/// Moves a store's reference sequence to at least `number`, creating it when missing, so that
/// `STORE--N` references handed out at registration start after the imported ones.
async fn advance_sequence(transaction: &DatabaseTransaction, store_id: i64, number: i64) -> Result<(), DbErr> {
    let first = customer_reference_sequence::ActiveModel {
        id: NotSet,
        store_id: Set(store_id),
        last_number: Set(0),
    };
    customer_reference_sequence::Entity::insert(first)
        .on_conflict(
            OnConflict::column(customer_reference_sequence::Column::StoreId)
                .do_nothing_on([customer_reference_sequence::Column::StoreId])
                .to_owned(),
        )
        .exec_without_returning(transaction)
        .await?;
    customer_reference_sequence::Entity::update_many()
        .col_expr(customer_reference_sequence::Column::LastNumber, Expr::value(number))
        .filter(customer_reference_sequence::Column::StoreId.eq(store_id))
        .filter(customer_reference_sequence::Column::LastNumber.lt(number))
        .exec(transaction)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_recognised_by_shape() {
        let bcrypt = "$2y$04$srX6Qjj3orfWNRk6UM1zB.C7LS1tP0mIjgWyo9LS.TghkI7GzwJMW";
        assert!(is_bcrypt(bcrypt));
        assert!(!is_bcrypt("$2y$04$short"));
        assert!(!is_bcrypt("plain text"));
        let argon2 =
            "$argon2id$v=19$m=19456,t=2,p=1$bnLykiT7/zaKZFrAwhwZQw$ZqwFzDWzkdZXVlhplowR/vJ+eHuqt0rkpqULP2Hs5PU";
        assert!(is_argon2(argon2));
        assert!(!is_argon2("$argon2id$v=19$broken"));
        assert!(!is_argon2("correct horse"));
    }

    #[test]
    fn choices_match_case_insensitively_in_the_stored_spelling() {
        assert_eq!(one_of("salutation", "mrs", SALUTATIONS).ok(), Some("Mrs".to_owned()));
        assert!(one_of("salutation", "Sir", SALUTATIONS).is_err());
        assert_eq!(one_of("gender", "FEMALE", GENDERS).ok(), Some("Female".to_owned()));
    }
}
