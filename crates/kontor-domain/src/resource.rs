//! The contract for admin-managed data: create, read, update, delete and list.
//!
//! A resource type (`StoreAttributes`, `ProductAbstractAttributes`, …) is the attribute object of the
//! admin JSON:API: what a client sends is what it reads back. Input passes [`Valid::new`] (pure checks)
//! before a repository sees it; the repository then checks references against storage and writes the
//! record and its outbox row in one transaction.

use crate::{DomainError, FieldError};
use async_trait::async_trait;
use kontor_core::{Page, PageRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// List filters a resource may support; any other filter is rejected with a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Prefix match on the SKU (`filter[sku]=M10`).
    Sku,
    /// Case-insensitive substring match on the name, in any locale (`filter[name]=kamera`).
    Name,
    /// Exact moderation status (`filter[status]=pending`).
    Status,
}

impl Filter {
    pub fn param(self) -> &'static str {
        match self {
            Filter::Sku => "sku",
            Filter::Name => "name",
            Filter::Status => "status",
        }
    }
}

/// A list request: a page plus optional filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub page: PageRequest,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

pub trait Resource: Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static {
    /// The JSON:API type (`abstract-products`), also the URL segment of the admin API.
    const TYPE: &'static str;
    /// The name used in outbox rows and queue names (`product_abstract`).
    const OUTBOX: &'static str;
    /// Filters the list endpoint accepts.
    const FILTERS: &'static [Filter] = &[];
    /// The values `filter[status]` accepts, for resources filtered by [`Filter::Status`].
    const STATUSES: &'static [&'static str] = &[];
    /// The typed id of a stored record.
    type Id: Copy + From<i64> + Into<i64> + fmt::Display + Send + Sync + 'static;

    /// Pure checks that need no storage; every problem found, not just the first.
    fn validate(&self) -> Vec<FieldError>;

    /// Fills defaults that follow from other fields (e.g. a store's default locale is one of its locales).
    fn normalize(&mut self) {}
}

/// Attributes that passed [`Resource::validate`]. Repositories only accept this, so unchecked input
/// cannot reach storage.
#[derive(Debug, Clone)]
pub struct Valid<R>(R);

impl<R: Resource> Valid<R> {
    pub fn new(mut attributes: R) -> Result<Self, DomainError> {
        attributes.normalize();
        let errors = attributes.validate();
        if errors.is_empty() {
            Ok(Self(attributes))
        } else {
            Err(DomainError::Validation(errors))
        }
    }

    pub fn into_inner(self) -> R {
        self.0
    }
}

impl<R> Deref for Valid<R> {
    type Target = R;
    fn deref(&self) -> &R {
        &self.0
    }
}

/// A stored resource: its id and its attributes as a client would send them back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record<R: Resource> {
    pub id: R::Id,
    pub attributes: R,
}

/// Storage for one resource type. Every write commits the record and its outbox rows together.
#[async_trait]
pub trait ResourceRepository<R: Resource>: Send + Sync {
    async fn create(&self, attributes: &Valid<R>) -> Result<Record<R>, DomainError>;
    async fn get(&self, id: R::Id) -> Result<Record<R>, DomainError>;
    async fn update(&self, id: R::Id, attributes: &Valid<R>) -> Result<Record<R>, DomainError>;
    async fn delete(&self, id: R::Id) -> Result<(), DomainError>;
    async fn list(&self, query: &ListQuery) -> Result<Page<Record<R>>, DomainError>;
}

/// The service in front of a repository: validates input, then delegates.
pub struct ResourceService<R: Resource> {
    repository: Arc<dyn ResourceRepository<R>>,
}

impl<R: Resource> Clone for ResourceService<R> {
    fn clone(&self) -> Self {
        Self {
            repository: Arc::clone(&self.repository),
        }
    }
}

impl<R: Resource> ResourceService<R> {
    pub fn new(repository: Arc<dyn ResourceRepository<R>>) -> Self {
        Self { repository }
    }

    pub async fn create(&self, attributes: R) -> Result<Record<R>, DomainError> {
        let valid = Valid::new(attributes)?;
        self.repository.create(&valid).await
    }

    pub async fn get(&self, id: R::Id) -> Result<Record<R>, DomainError> {
        self.repository.get(id).await
    }

    pub async fn update(&self, id: R::Id, attributes: R) -> Result<Record<R>, DomainError> {
        let valid = Valid::new(attributes)?;
        self.repository.update(id, &valid).await
    }

    pub async fn delete(&self, id: R::Id) -> Result<(), DomainError> {
        self.repository.delete(id).await
    }

    pub async fn list(&self, query: &ListQuery) -> Result<Page<Record<R>>, DomainError> {
        if query.sku.is_some() && !R::FILTERS.contains(&Filter::Sku) {
            return Err(DomainError::field(
                "filter[sku]",
                format!("{} cannot be filtered by sku", R::TYPE),
            ));
        }
        if query.name.is_some() && !R::FILTERS.contains(&Filter::Name) {
            return Err(DomainError::field(
                "filter[name]",
                format!("{} cannot be filtered by name", R::TYPE),
            ));
        }
        if let Some(status) = &query.status {
            if !R::FILTERS.contains(&Filter::Status) {
                return Err(DomainError::field(
                    "filter[status]",
                    format!("{} cannot be filtered by status", R::TYPE),
                ));
            }
            if !R::STATUSES.contains(&status.as_str()) {
                return Err(DomainError::field(
                    "filter[status]",
                    format!("must be one of {}", R::STATUSES.join(", ")),
                ));
            }
        }
        self.repository.list(query).await
    }
}

/// The list window every resource uses when none is asked for.
pub fn default_page() -> PageRequest {
    PageRequest::default()
}
