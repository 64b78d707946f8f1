//! Kontor's business modules (ARCHITECTURE §4): what may be written, checked before any storage is
//! touched, and the ports (repository traits) through which adapters store it.
//!
//! The crate is pure: no SQL, no HTTP. Admin-managed data follows one contract, [`resource`]: a resource
//! type is the JSON attribute object clients send and get back, it validates itself, and a
//! [`resource::ResourceRepository`] stores it together with its outbox rows in one transaction.

pub mod acl;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod customer;
pub mod error;
pub mod gateway;
pub mod glossary;
pub mod oms;
pub mod outbox;
pub mod pricing;
pub mod resource;
pub mod review;
pub mod stock;
pub mod store;
pub mod tax;
pub mod users;
mod validate;

pub use error::{DomainError, FieldError};
pub use resource::{ListQuery, Record, Resource, ResourceRepository, ResourceService, Valid};
