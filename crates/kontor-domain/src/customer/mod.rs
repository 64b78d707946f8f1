//! Customer accounts, sign-in tokens, password change and reset, and addresses
//! (storefront-api.md §6, §8.1–§8.2): the backend side of the customer commands of the gateway.
//!
//! Invariants:
//! - Passwords are stored as argon2id; bcrypt hashes imported from Spryker verify and are replaced by
//!   argon2id at the next successful sign-in.
//! - A wrong password and an unknown e-mail answer the same `003` after the same work; ten failures per
//!   account or per client address within 15 minutes answer `009` (counted in SQL, so every storefront
//!   node sees them).
//! - Refresh tokens and reset keys are stored only as SHA-256. A refresh token is single use: each refresh
//!   rotates it, and presenting a used one again revokes every refresh token of its customer.
//! - Every write is one transaction in the repository. Customers are not storefront data, so nothing is
//!   published.

mod countries;
mod ports;
pub mod secrets;
pub mod validation;

pub use ports::{
    AccessTokenIssuer, CustomerId, CustomerRecord, CustomerRepository, LoginFailures, LoginSuccess, Mail, MailError,
    Mailer, NewCustomer, ProfileFields, RefreshRotation, TokenIssueError,
};

use crate::DomainError;
use crate::gateway::{
    Address, AddressChanges, AddressInput, CustomerChanges, CustomerCommand, CustomerProfile, GatewayError,
    GatewayReply, PasswordChange, PasswordRestore, Registration, Rejection, Secret, TokenPair,
};
use crate::users::Email;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use kontor_core::{Clock, StoreName, SystemClock};
use secrets::PasswordCheck;
use std::sync::Arc;
use validation::{Problems, at};

/// Failed sign-ins allowed per account and per client address within [`LOGIN_FAILURE_WINDOW_MINUTES`].
pub const LOGIN_FAILURE_LIMIT: u64 = 10;
pub const LOGIN_FAILURE_WINDOW_MINUTES: i64 = 15;
/// How long a password reset key stays valid.
pub const RESET_KEY_LIFETIME_HOURS: i64 = 2;

const LOGIN_FAILED: &str = "003";
const REFRESH_FAILED: &str = "004";
const TOO_MANY_LOGINS: &str = "009";
const STORE_INVALID: &str = "112";
const EMAIL_TAKEN: &str = "402";
const CUSTOMER_NOT_FOUND: &str = "404";
const ADDRESS_NOT_FOUND: &str = "411";
/// Longest account key and client address kept by the throttle.
const MAX_EMAIL_LENGTH: usize = 254;
const MAX_CLIENT_IP_LENGTH: usize = 64;

/// Runs the customer commands of the backend gateway. Cheap to clone.
#[derive(Clone)]
pub struct CustomerService {
    repository: Arc<dyn CustomerRepository>,
    tokens: Arc<dyn AccessTokenIssuer>,
    mailer: Arc<dyn Mailer>,
    refresh_token_lifetime: Duration,
    clock: Arc<dyn Clock>,
}

impl CustomerService {
    /// `refresh_token_lifetime_days` is `auth.refresh_token_lifetime_days` of the configuration.
    pub fn new(
        repository: Arc<dyn CustomerRepository>,
        tokens: Arc<dyn AccessTokenIssuer>,
        mailer: Arc<dyn Mailer>,
        refresh_token_lifetime_days: u64,
    ) -> Self {
        let days = i64::try_from(refresh_token_lifetime_days).unwrap_or(i64::MAX);
        Self {
            repository,
            tokens,
            mailer,
            refresh_token_lifetime: Duration::try_days(days).unwrap_or(Duration::MAX),
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock, so tests can move time (throttling windows, key and token expiry).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs one command; see [`CustomerCommand`] for each one's answer and rejections.
    ///
    /// Sign-in, registration and password commands hash or verify a password, which takes tens of
    /// milliseconds of CPU by design.
    pub async fn execute(&self, command: CustomerCommand) -> Result<GatewayReply, GatewayError> {
        match command {
            CustomerCommand::Register { store, registration } => self.register(&store, &registration).await,
            CustomerCommand::Login {
                email,
                password,
                client_ip,
                ..
            } => self.login(&email, &password, client_ip.as_deref()).await,
            CustomerCommand::Refresh { refresh_token } => self.refresh(&refresh_token).await,
            CustomerCommand::RevokeRefreshToken {
                customer_reference,
                refresh_token,
            } => {
                let presented = refresh_token.expose().trim();
                if presented.starts_with(secrets::REFRESH_TOKEN_PREFIX) {
                    self.repository
                        .revoke_refresh_token(&customer_reference, &secrets::secret_hash(presented), self.now())
                        .await
                        .map_err(internal)?;
                }
                Ok(GatewayReply::Done)
            }
            CustomerCommand::RevokeAllRefreshTokens { customer_reference } => {
                self.repository
                    .revoke_all_refresh_tokens(&customer_reference, self.now())
                    .await
                    .map_err(internal)?;
                Ok(GatewayReply::Done)
            }
            CustomerCommand::GetCustomer { customer_reference } => {
                let customer = self.customer(&customer_reference).await?;
                Ok(GatewayReply::Customer(profile_view(&customer)))
            }
            CustomerCommand::UpdateCustomer {
                customer_reference,
                changes,
            } => self.update(&customer_reference, &changes).await,
            CustomerCommand::DeleteCustomer { customer_reference } => {
                let customer = self.customer(&customer_reference).await?;
                self.repository
                    .anonymise_customer(
                        customer.id,
                        &secrets::anonymised_email(),
                        secrets::UNUSABLE_HASH,
                        self.now(),
                    )
                    .await
                    .map_err(|error| not_found_as(error, CUSTOMER_NOT_FOUND))?;
                Ok(GatewayReply::Done)
            }
            CustomerCommand::ChangePassword {
                customer_reference,
                change,
            } => self.change_password(&customer_reference, &change).await,
            CustomerCommand::ForgotPassword { email, .. } => self.forgot_password(&email).await,
            CustomerCommand::RestorePassword { restore } => self.restore_password(&restore).await,
            CustomerCommand::ListAddresses { customer_reference } => {
                let customer = self.customer(&customer_reference).await?;
                let addresses = self.repository.list_addresses(customer.id).await.map_err(internal)?;
                Ok(GatewayReply::Addresses(addresses))
            }
            CustomerCommand::GetAddress {
                customer_reference,
                address_id,
            } => {
                let customer = self.customer(&customer_reference).await?;
                let address = self.address(customer.id, &address_id).await?;
                Ok(GatewayReply::Address(address))
            }
            CustomerCommand::CreateAddress {
                customer_reference,
                address,
            } => self.create_address(&customer_reference, &address).await,
            CustomerCommand::UpdateAddress {
                customer_reference,
                address_id,
                changes,
            } => self.update_address(&customer_reference, &address_id, &changes).await,
            CustomerCommand::DeleteAddress {
                customer_reference,
                address_id,
            } => {
                let customer = self.customer(&customer_reference).await?;
                let deleted = self
                    .repository
                    .delete_address(customer.id, &address_id)
                    .await
                    .map_err(internal)?;
                if !deleted {
                    return Err(address_not_found());
                }
                Ok(GatewayReply::Done)
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn register(&self, store: &str, registration: &Registration) -> Result<GatewayReply, GatewayError> {
        let store = store.trim().to_uppercase();
        let store_known =
            StoreName::parse(&store).is_ok() && self.repository.store_exists(&store).await.map_err(internal)?;
        if !store_known {
            return Err(GatewayError::rejected(STORE_INVALID, "the store is unknown"));
        }
        let mut problems = Problems::default();
        let profile = validation::registration(registration, self.now().date_naive(), &mut problems);
        if let Ok(email) = Email::parse(&registration.email)
            && self
                .repository
                .find_customer_by_email(&email)
                .await
                .map_err(internal)?
                .is_some()
        {
            problems.push(
                EMAIL_TAKEN,
                "email",
                "a customer with this e-mail address already exists",
            );
        }
        let Some(profile) = profile.filter(|_| problems.is_empty()) else {
            return Err(GatewayError::Rejected(problems.into_rejections()));
        };
        let password_hash = hash(registration.password.expose())?;
        let customer = NewCustomer {
            store,
            profile,
            password_hash,
        };
        let created = self
            .repository
            .create_customer(&customer, self.now())
            .await
            .map_err(email_conflict)?;
        Ok(GatewayReply::Customer(profile_view(&created)))
    }

    async fn login(
        &self,
        email: &str,
        password: &Secret,
        client_ip: Option<&str>,
    ) -> Result<GatewayReply, GatewayError> {
        let account = truncated(&email.trim().to_lowercase(), MAX_EMAIL_LENGTH);
        let client_ip = client_ip
            .map(str::trim)
            .filter(|ip| !ip.is_empty())
            .map(|ip| truncated(ip, MAX_CLIENT_IP_LENGTH));
        let now = self.now();
        let window_start = now - Duration::minutes(LOGIN_FAILURE_WINDOW_MINUTES);
        let failures = self
            .repository
            .login_failures_since(&account, client_ip.as_deref(), window_start)
            .await
            .map_err(internal)?;
        if failures.by_account >= LOGIN_FAILURE_LIMIT || failures.by_client >= LOGIN_FAILURE_LIMIT {
            return Err(GatewayError::rejected(
                TOO_MANY_LOGINS,
                "too many failed sign-in attempts, try again later",
            ));
        }
        let customer = match Email::parse(email) {
            Ok(email) => self.repository.find_customer_by_email(&email).await.map_err(internal)?,
            Err(_) => None,
        };
        let check = match &customer {
            Some(customer) => secrets::check_password(password.expose(), &customer.password_hash),
            None => {
                secrets::check_against_dummy(password.expose());
                PasswordCheck::Invalid
            }
        };
        let (Some(customer), PasswordCheck::Valid { needs_rehash }) = (customer, check) else {
            self.repository
                .record_login_failure(&account, client_ip.as_deref(), now)
                .await
                .map_err(internal)?;
            return Err(login_failed());
        };
        let rehashed = if needs_rehash {
            Some(hash(password.expose())?)
        } else {
            None
        };
        let refresh_token = secrets::new_refresh_token();
        let refresh_hash = secrets::secret_hash(&refresh_token);
        let (access_token, expires_in) = self.access_token(&customer.reference)?;
        self.repository
            .record_login_success(LoginSuccess {
                customer: customer.id,
                email: &account,
                refresh_token_hash: &refresh_hash,
                refresh_expires_at: now + self.refresh_token_lifetime,
                rehashed_password: rehashed.as_deref(),
                now,
            })
            .await
            .map_err(internal)?;
        Ok(GatewayReply::Tokens(TokenPair {
            token_type: "Bearer".to_owned(),
            expires_in,
            access_token,
            refresh_token,
            customer_reference: customer.reference,
        }))
    }

    async fn refresh(&self, presented: &Secret) -> Result<GatewayReply, GatewayError> {
        let presented = presented.expose().trim();
        if !presented.starts_with(secrets::REFRESH_TOKEN_PREFIX) {
            return Err(refresh_failed());
        }
        let now = self.now();
        let refresh_token = secrets::new_refresh_token();
        let rotation = self
            .repository
            .rotate_refresh_token(
                &secrets::secret_hash(presented),
                &secrets::secret_hash(&refresh_token),
                now + self.refresh_token_lifetime,
                now,
            )
            .await
            .map_err(internal)?;
        match rotation {
            RefreshRotation::Rotated { customer_reference } => {
                let (access_token, expires_in) = self.access_token(&customer_reference)?;
                Ok(GatewayReply::Tokens(TokenPair {
                    token_type: "Bearer".to_owned(),
                    expires_in,
                    access_token,
                    refresh_token,
                    customer_reference,
                }))
            }
            RefreshRotation::Reused => {
                tracing::warn!("a used refresh token was presented again; all refresh tokens of its customer revoked");
                Err(refresh_failed())
            }
            RefreshRotation::Invalid => Err(refresh_failed()),
        }
    }

    async fn update(&self, reference: &str, changes: &CustomerChanges) -> Result<GatewayReply, GatewayError> {
        let customer = self.customer(reference).await?;
        let mut problems = Problems::default();
        let profile = validation::profile_changes(&customer.profile, changes, self.now().date_naive(), &mut problems);
        if let Some(profile) = &profile
            && profile.email != customer.profile.email
            && self
                .repository
                .find_customer_by_email(&profile.email)
                .await
                .map_err(internal)?
                .is_some_and(|other| other.id != customer.id)
        {
            problems.push(
                EMAIL_TAKEN,
                "email",
                "a customer with this e-mail address already exists",
            );
        }
        let Some(profile) = profile.filter(|_| problems.is_empty()) else {
            return Err(GatewayError::Rejected(problems.into_rejections()));
        };
        let updated = self
            .repository
            .update_customer(customer.id, &profile, self.now())
            .await
            .map_err(email_conflict)?;
        Ok(GatewayReply::Customer(profile_view(&updated)))
    }

    async fn change_password(&self, reference: &str, change: &PasswordChange) -> Result<GatewayReply, GatewayError> {
        let customer = self.customer(reference).await?;
        let mut problems = Problems::default();
        problems.new_password(
            "newPassword",
            change.new_password.expose(),
            "confirmPassword",
            change.confirm_password.expose(),
        );
        if !problems.is_empty() {
            return Err(GatewayError::Rejected(problems.into_rejections()));
        }
        if secrets::check_password(change.password.expose(), &customer.password_hash) == PasswordCheck::Invalid {
            return Err(GatewayError::rejected_at(
                LOGIN_FAILED,
                &at("password"),
                "the current password is wrong",
            ));
        }
        let password_hash = hash(change.new_password.expose())?;
        self.repository
            .change_password(customer.id, &password_hash, self.now())
            .await
            .map_err(|error| not_found_as(error, CUSTOMER_NOT_FOUND))?;
        Ok(GatewayReply::Done)
    }

    async fn forgot_password(&self, email: &str) -> Result<GatewayReply, GatewayError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(GatewayReply::Done);
        };
        let Some(customer) = self.repository.find_customer_by_email(&email).await.map_err(internal)? else {
            return Ok(GatewayReply::Done);
        };
        let key = secrets::new_reset_key();
        let now = self.now();
        self.repository
            .create_password_reset(
                customer.id,
                &secrets::secret_hash(&key),
                now + Duration::hours(RESET_KEY_LIFETIME_HOURS),
                now,
            )
            .await
            .map_err(internal)?;
        let mail = reset_mail(&customer, &key);
        // The answer is the same whether or not the mail went out, so that it says nothing about which
        // addresses have accounts; a failed delivery is for the operator's log.
        if let Err(error) = self.mailer.send(&mail).await {
            tracing::warn!(%error, customer = %customer.reference, "password reset mail could not be sent");
        }
        Ok(GatewayReply::Done)
    }

    async fn restore_password(&self, restore: &PasswordRestore) -> Result<GatewayReply, GatewayError> {
        let mut problems = Problems::default();
        let key = restore.restore_password_key.expose().trim();
        if key.is_empty() {
            problems.push(validation::INVALID, "restorePasswordKey", "must not be empty");
        }
        problems.new_password(
            "password",
            restore.password.expose(),
            "confirmPassword",
            restore.confirm_password.expose(),
        );
        if !problems.is_empty() {
            return Err(GatewayError::Rejected(problems.into_rejections()));
        }
        let password_hash = hash(restore.password.expose())?;
        let restored = self
            .repository
            .restore_password(&secrets::secret_hash(key), &password_hash, self.now())
            .await
            .map_err(internal)?;
        if !restored {
            return Err(GatewayError::rejected_at(
                validation::INVALID,
                &at("restorePasswordKey"),
                "the key is unknown, used or expired",
            ));
        }
        Ok(GatewayReply::Done)
    }

    async fn create_address(&self, reference: &str, input: &AddressInput) -> Result<GatewayReply, GatewayError> {
        let customer = self.customer(reference).await?;
        let mut problems = Problems::default();
        let Some(mut address) = validation::new_address(input, &mut problems) else {
            return Err(GatewayError::Rejected(problems.into_rejections()));
        };
        address.id = secrets::new_uuid();
        let created = self
            .repository
            .create_address(customer.id, &address, self.now())
            .await
            .map_err(|error| not_found_as(error, CUSTOMER_NOT_FOUND))?;
        Ok(GatewayReply::Address(created))
    }

    async fn update_address(
        &self,
        reference: &str,
        address_id: &str,
        changes: &AddressChanges,
    ) -> Result<GatewayReply, GatewayError> {
        let customer = self.customer(reference).await?;
        let current = self.address(customer.id, address_id).await?;
        let mut problems = Problems::default();
        let Some(address) = validation::address_changes(&current, changes, &mut problems) else {
            return Err(GatewayError::Rejected(problems.into_rejections()));
        };
        let updated = self
            .repository
            .update_address(customer.id, &address, self.now())
            .await
            .map_err(internal)?
            .ok_or_else(address_not_found)?;
        Ok(GatewayReply::Address(updated))
    }

    /// The live customer with this reference, or `404`.
    async fn customer(&self, reference: &str) -> Result<CustomerRecord, GatewayError> {
        self.repository
            .find_customer_by_reference(reference)
            .await
            .map_err(internal)?
            .ok_or_else(|| GatewayError::rejected(CUSTOMER_NOT_FOUND, "customer not found"))
    }

    /// The customer's address with this id, or `411`.
    async fn address(&self, customer: CustomerId, address_id: &str) -> Result<Address, GatewayError> {
        self.repository
            .find_address(customer, address_id)
            .await
            .map_err(internal)?
            .ok_or_else(address_not_found)
    }

    fn access_token(&self, customer_reference: &str) -> Result<(String, u64), GatewayError> {
        self.tokens.issue_access_token(customer_reference).map_err(|error| {
            tracing::error!(%error, "customer access token could not be signed");
            GatewayError::Internal("the access token could not be signed".to_owned())
        })
    }
}

/// A customer as the storefront shows it.
pub fn profile_view(customer: &CustomerRecord) -> CustomerProfile {
    let profile = &customer.profile;
    CustomerProfile {
        customer_reference: customer.reference.clone(),
        first_name: profile.first_name.clone(),
        last_name: profile.last_name.clone(),
        email: profile.email.as_str().to_owned(),
        salutation: profile.salutation.clone(),
        gender: profile.gender.clone(),
        date_of_birth: profile.date_of_birth.clone(),
        created_at: customer.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        updated_at: customer.updated_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    }
}

fn reset_mail(customer: &CustomerRecord, key: &str) -> Mail {
    let profile = &customer.profile;
    let body = format!(
        "Hello {first} {last},\n\n\
         someone, hopefully you, asked to reset the password of the account {email}.\n\
         Use this key within {RESET_KEY_LIFETIME_HOURS} hours to choose a new password:\n\n\
         {key}\n\n\
         If you did not ask for this, ignore this mail: your password stays as it is.\n",
        first = profile.first_name,
        last = profile.last_name,
        email = profile.email,
    );
    Mail {
        to: profile.email.as_str().to_owned(),
        subject: "Reset your password".to_owned(),
        body,
    }
}

fn hash(password: &str) -> Result<String, GatewayError> {
    secrets::hash_password(password).map_err(|error| {
        tracing::error!(%error, "password hashing failed");
        GatewayError::Internal("password hashing failed".to_owned())
    })
}

fn truncated(value: &str, max_chars: usize) -> String {
    value.chars().take(max_chars).collect()
}

fn login_failed() -> GatewayError {
    GatewayError::rejected(LOGIN_FAILED, "failed to authenticate user")
}

fn refresh_failed() -> GatewayError {
    GatewayError::rejected(REFRESH_FAILED, "failed to refresh token")
}

fn address_not_found() -> GatewayError {
    GatewayError::rejected(ADDRESS_NOT_FOUND, "address not found")
}

/// A storage failure: logged here, reported without details.
fn internal(error: DomainError) -> GatewayError {
    tracing::error!(%error, "customer storage failed");
    GatewayError::Internal("customer storage failed".to_owned())
}

/// A race lost to another writer of the same e-mail is the same `402` as the check before it.
fn email_conflict(error: DomainError) -> GatewayError {
    match error {
        DomainError::Conflict { pointer, .. } if pointer == "/email" => GatewayError::Rejected(vec![
            Rejection::new(EMAIL_TAKEN, "a customer with this e-mail address already exists").at(&at("email")),
        ]),
        DomainError::NotFound { .. } => GatewayError::rejected(CUSTOMER_NOT_FOUND, "customer not found"),
        other => internal(other),
    }
}

/// The customer vanished between reading and writing (deleted meanwhile).
fn not_found_as(error: DomainError, code: &str) -> GatewayError {
    match error {
        DomainError::NotFound { .. } => GatewayError::rejected(code, "customer not found"),
        other => internal(other),
    }
}
