//! The ports of the customer module: storage ([`CustomerRepository`]), access-token signing
//! ([`AccessTokenIssuer`]) and outgoing mail ([`Mailer`]), with the records that cross them.
//!
//! The service computes every time stamp and every secret; adapters only store what they are given,
//! so expiry and throttling windows are decided in one place and can be tested with a pinned clock.
//! Secrets never reach storage in the clear: refresh tokens and reset keys arrive as SHA-256 hex.

use crate::DomainError;
use crate::gateway::Address;
use crate::users::Email;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt;

/// The storage id of a customer. Clients never see it; they use the customer reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(pub i64);

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The editable profile of a customer, already validated and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFields {
    pub email: Email,
    pub salutation: String,
    pub first_name: String,
    pub last_name: String,
    pub gender: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
}

/// A customer to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// The store the customer registered in, upper-case; also the prefix of the reference.
    pub store: String,
    pub profile: ProfileFields,
    pub password_hash: String,
}

impl fmt::Debug for NewCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCustomer")
            .field("store", &self.store)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// A stored, not deleted customer, including the password hash (which `Debug` never shows).
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub id: CustomerId,
    /// `DE--7`: the registration store and a sequence number.
    pub reference: String,
    pub profile: ProfileFields,
    /// argon2id PHC string, or a bcrypt `$2y$` hash imported from Spryker.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for CustomerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerRecord")
            .field("id", &self.id)
            .field("reference", &self.reference)
            .field("profile", &self.profile)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// Recent failed sign-ins, counted by account (e-mail) and by client address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub by_account: u64,
    pub by_client: u64,
}

/// What a successful sign-in stores, in one transaction.
#[derive(Clone)]
pub struct LoginSuccess<'a> {
    pub customer: CustomerId,
    /// The account key whose failure counter is cleared.
    pub email: &'a str,
    /// SHA-256 hex of the new refresh token.
    pub refresh_token_hash: &'a str,
    pub refresh_expires_at: DateTime<Utc>,
    /// An argon2id hash replacing an imported bcrypt one.
    pub rehashed_password: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The result of presenting a refresh token for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was live; it is now used and the new one is stored. Carries the owner's reference.
    Rotated { customer_reference: String },
    /// The token had been used before: every refresh token of its owner has been revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

/// The storage port of the customer module, implemented by the SQL adapter. Every method that writes
/// does so in one transaction. Customers are not storefront data: no outbox rows.
#[async_trait]
pub trait CustomerRepository: Send + Sync {
    /// Whether a store of that (upper-case) name exists.
    async fn store_exists(&self, store: &str) -> Result<bool, DomainError>;

    /// Creates the customer and gives it the reference `<STORE>--<n>`. A taken e-mail is a conflict
    /// on `/email`.
    async fn create_customer(&self, customer: &NewCustomer, now: DateTime<Utc>) -> Result<CustomerRecord, DomainError>;

    async fn find_customer_by_reference(&self, reference: &str) -> Result<Option<CustomerRecord>, DomainError>;

    async fn find_customer_by_email(&self, email: &Email) -> Result<Option<CustomerRecord>, DomainError>;

    /// Live customers, newest first, and how many match in all (the Back Office's customer list).
    /// `search` matches, ignoring case, part of the e-mail address, the first or the last name, or
    /// the start of the reference.
    async fn list_customers(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<CustomerRecord>, u64), DomainError>;

    /// Replaces the profile; a taken e-mail is a conflict on `/email`, a missing customer not found.
    async fn update_customer(
        &self,
        customer: CustomerId,
        profile: &ProfileFields,
        now: DateTime<Utc>,
    ) -> Result<CustomerRecord, DomainError>;

    /// Anonymises the account: the e-mail becomes `placeholder_email`, names and personal data are
    /// cleared, the password hash becomes `unusable_hash`, refresh tokens are revoked, reset keys and
    /// addresses deleted. Afterwards the reference finds nobody.
    async fn anonymise_customer(
        &self,
        customer: CustomerId,
        placeholder_email: &str,
        unusable_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    /// Stores a new password hash and revokes every refresh token of the customer.
    async fn change_password(
        &self,
        customer: CustomerId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    /// Failed sign-ins since `since` for this account key and, when given, this client address.
    async fn login_failures_since(
        &self,
        email: &str,
        client_ip: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<LoginFailures, DomainError>;

    /// Records one failed sign-in (and may forget failures far older than any throttling window).
    async fn record_login_failure(
        &self,
        email: &str,
        client_ip: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    /// Clears the account's failures, stores the refresh token and an upgraded password hash.
    async fn record_login_success(&self, success: LoginSuccess<'_>) -> Result<(), DomainError>;

    /// Marks the live token `presented_hash` used and stores `new_hash`; a token used before revokes
    /// all of its owner's tokens (and stores nothing new).
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RefreshRotation, DomainError>;

    /// Revokes one token of the customer; unknown tokens are ignored.
    async fn revoke_refresh_token(
        &self,
        customer_reference: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    /// Revokes every live token of the customer; an unknown customer is ignored.
    async fn revoke_all_refresh_tokens(&self, customer_reference: &str, now: DateTime<Utc>) -> Result<(), DomainError>;

    /// Stores a password reset key (SHA-256 hex) valid until `expires_at`.
    async fn create_password_reset(
        &self,
        customer: CustomerId,
        key_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    /// With a live key: sets the password of its customer, marks the key used and revokes the
    /// customer's refresh tokens, answering `true`. Unknown, used or expired keys change nothing (`false`).
    async fn restore_password(
        &self,
        key_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError>;

    /// The customer's addresses, oldest first.
    async fn list_addresses(&self, customer: CustomerId) -> Result<Vec<Address>, DomainError>;

    async fn find_address(&self, customer: CustomerId, address_id: &str) -> Result<Option<Address>, DomainError>;

    /// Stores a new address (its `id` already generated). The customer's first address becomes the
    /// default for both; a default flag set here is cleared on the customer's other addresses.
    async fn create_address(
        &self,
        customer: CustomerId,
        address: &Address,
        now: DateTime<Utc>,
    ) -> Result<Address, DomainError>;

    /// Replaces an address of the customer (`None` when it has no such address); default flags set
    /// here are cleared on the other addresses.
    async fn update_address(
        &self,
        customer: CustomerId,
        address: &Address,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, DomainError>;

    /// Deletes an address of the customer; `false` when it has no such address.
    async fn delete_address(&self, customer: CustomerId, address_id: &str) -> Result<bool, DomainError>;
}

/// Why an access token could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token could not be signed: {0}")]
pub struct TokenIssueError(pub String);

/// Signs customer access tokens (JWTs); implemented by `kontor_web::access_token::AccessTokenKeys`.
pub trait AccessTokenIssuer: Send + Sync {
    /// A token whose subject is `customer_reference`, and its lifetime in seconds.
    fn issue_access_token(&self, customer_reference: &str) -> Result<(String, u64), TokenIssueError>;
}

/// One plain-text mail.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The body may carry secrets (a password reset key), so `Debug` leaves it out.
impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient or sender address cannot be used.
    #[error("invalid mail address: {0}")]
    Address(String),
    /// The message could not be built.
    #[error("mail could not be built: {0}")]
    Message(String),
    /// Writing or transmitting failed.
    #[error("mail could not be delivered: {0}")]
    Transport(String),
}

/// Sends mail: a directory of `.eml` files or SMTP (`kontor-mail`).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}
