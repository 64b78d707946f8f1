//! What the handlers share: one service per resource type and the user service, behind an `Arc`.

use kontor_domain::catalog::{
    AttributeKeyAttributes, CategoryAttributes, ProductAbstractAttributes, ProductCategoryAttributes,
    ProductConcreteAttributes,
};
use kontor_domain::glossary::GlossaryKeyAttributes;
use kontor_domain::pricing::PriceAttributes;
use kontor_domain::review::ProductReviewAttributes;
use kontor_domain::stock::{StockAttributes, WarehouseAttributes};
use kontor_domain::store::{CurrencyAttributes, LocaleAttributes, StoreAttributes};
use kontor_domain::tax::TaxSetAttributes;
use kontor_domain::users::{UserRepository, UserService};
use kontor_domain::{Resource, ResourceRepository, ResourceService};
use std::sync::Arc;

/// Calls `$callback!` with every admin resource as `field: Type`, so that the services struct, its
/// constructor, the routes and the OpenAPI document cannot drift apart.
#[macro_export]
macro_rules! for_each_admin_resource {
    ($callback:ident) => {
        $callback! {
            stores: kontor_domain::store::StoreAttributes,
            locales: kontor_domain::store::LocaleAttributes,
            currencies: kontor_domain::store::CurrencyAttributes,
            glossary_keys: kontor_domain::glossary::GlossaryKeyAttributes,
            attribute_keys: kontor_domain::catalog::AttributeKeyAttributes,
            tax_sets: kontor_domain::tax::TaxSetAttributes,
            abstract_products: kontor_domain::catalog::ProductAbstractAttributes,
            concrete_products: kontor_domain::catalog::ProductConcreteAttributes,
            categories: kontor_domain::catalog::CategoryAttributes,
            product_categories: kontor_domain::catalog::ProductCategoryAttributes,
            prices: kontor_domain::pricing::PriceAttributes,
            warehouses: kontor_domain::stock::WarehouseAttributes,
            stocks: kontor_domain::stock::StockAttributes,
            product_reviews: kontor_domain::review::ProductReviewAttributes,
        }
    };
}

/// Storage that serves every admin resource and the users: what the binary wires in (`SqlDatabase`).
pub trait AdminRepository:
    ResourceRepository<StoreAttributes>
    + ResourceRepository<LocaleAttributes>
    + ResourceRepository<CurrencyAttributes>
    + ResourceRepository<GlossaryKeyAttributes>
    + ResourceRepository<AttributeKeyAttributes>
    + ResourceRepository<TaxSetAttributes>
    + ResourceRepository<ProductAbstractAttributes>
    + ResourceRepository<ProductConcreteAttributes>
    + ResourceRepository<CategoryAttributes>
    + ResourceRepository<ProductCategoryAttributes>
    + ResourceRepository<PriceAttributes>
    + ResourceRepository<WarehouseAttributes>
    + ResourceRepository<StockAttributes>
    + ResourceRepository<ProductReviewAttributes>
    + UserRepository
    + kontor_domain::acl::AclRepository
    + kontor_domain::acl::AuditRepository
    + kontor_domain::customer::CustomerRepository
    + 'static
{
}

impl<T> AdminRepository for T where
    T: ResourceRepository<StoreAttributes>
        + ResourceRepository<LocaleAttributes>
        + ResourceRepository<CurrencyAttributes>
        + ResourceRepository<GlossaryKeyAttributes>
        + ResourceRepository<AttributeKeyAttributes>
        + ResourceRepository<TaxSetAttributes>
        + ResourceRepository<ProductAbstractAttributes>
        + ResourceRepository<ProductConcreteAttributes>
        + ResourceRepository<CategoryAttributes>
        + ResourceRepository<ProductCategoryAttributes>
        + ResourceRepository<PriceAttributes>
        + ResourceRepository<WarehouseAttributes>
        + ResourceRepository<StockAttributes>
        + ResourceRepository<ProductReviewAttributes>
        + UserRepository
        + kontor_domain::acl::AclRepository
        + kontor_domain::acl::AuditRepository
        + kontor_domain::customer::CustomerRepository
        + 'static
{
}

/// Gives the handler of resource `R` its service.
pub trait ServiceFor<R: Resource> {
    fn service(&self) -> &ResourceService<R>;
}

macro_rules! define_services {
    ($($field:ident: $resource:ty),+ $(,)?) => {
        /// One service per admin resource, plus users, their roles and the audit log.
        pub struct AdminServices {
            pub users: UserService,
            /// Roles, permissions and user-role assignments.
            pub acl: kontor_domain::acl::AclService,
            /// Where the ACL guard and the UI record who changed what.
            pub audit: Arc<dyn kontor_domain::acl::AuditRepository>,
            /// Customer accounts, read by the Back Office's customer pages.
            pub customers: Arc<dyn kontor_domain::customer::CustomerRepository>,
            $(pub $field: ResourceService<$resource>,)+
        }

        impl AdminServices {
            pub fn new<D: AdminRepository>(repository: Arc<D>) -> Self {
                Self {
                    users: UserService::new(repository.clone()),
                    acl: kontor_domain::acl::AclService::new(repository.clone()),
                    audit: repository.clone(),
                    customers: repository.clone(),
                    $($field: ResourceService::new(repository.clone() as Arc<dyn ResourceRepository<$resource>>),)+
                }
            }
        }

        $(impl ServiceFor<$resource> for AdminServices {
            fn service(&self) -> &ResourceService<$resource> {
                &self.$field
            }
        })+
    };
}

for_each_admin_resource!(define_services);

/// The router state: cheap to clone.
#[derive(Clone)]
pub struct AdminState {
    pub services: Arc<AdminServices>,
    /// Orders and their state machines; absent in processes that do not run the OMS.
    pub orders: Option<Arc<crate::orders::OrderAdmin>>,
    /// The scheduler's run history (`/admin/scheduler/runs`); absent where no scheduler tables are read.
    pub scheduler: Option<kontor_queue::scheduler::RunHistory>,
    /// File uploads (`/admin/files…`); absent in processes that do not store files.
    pub files: Option<Arc<crate::files::FilesAdmin>>,
    /// The Back Office HTML UI (`/backoffice…`); absent: admin API only.
    pub ui: Option<Arc<crate::ui::UiKit>>,
    /// The message bus, for queue depths and dead letters in the Back Office; absent: shown as n/a.
    pub queues: Option<Arc<dyn kontor_queue::MessageBus>>,
    /// Runs data imports for the Back Office (`/backoffice/imports`); absent: the page says so.
    pub imports: Option<Arc<dyn crate::ui::imports::ImportRunner>>,
}

impl AdminState {
    pub fn new<D: AdminRepository>(repository: Arc<D>) -> Self {
        Self {
            services: Arc::new(AdminServices::new(repository)),
            orders: None,
            scheduler: None,
            files: None,
            ui: None,
            queues: None,
            imports: None,
        }
    }

    /// Adds the order endpoints (`/admin/orders…`, `/admin/oms/draw`).
    pub fn with_orders(mut self, orders: crate::orders::OrderAdmin) -> Self {
        self.orders = Some(Arc::new(orders));
        self
    }

    /// Adds the scheduler's run history (`GET /admin/scheduler/runs`).
    pub fn with_scheduler(mut self, history: kontor_queue::scheduler::RunHistory) -> Self {
        self.scheduler = Some(history);
        self
    }

    /// Adds the Back Office HTML UI under `/backoffice`.
    pub fn with_ui(mut self, ui: crate::ui::UiKit) -> Self {
        self.ui = Some(Arc::new(ui));
        self
    }

    /// Adds queue depths and dead letters to the Back Office (dashboard, `/backoffice/queues`).
    pub fn with_queues(mut self, bus: Arc<dyn kontor_queue::MessageBus>) -> Self {
        self.queues = Some(bus);
        self
    }

    /// Adds the Back Office's import pages, run by `runner` (`/backoffice/imports…`).
    pub fn with_imports(mut self, runner: Arc<dyn crate::ui::imports::ImportRunner>) -> Self {
        self.imports = Some(runner);
        self
    }

    /// Adds the file endpoints (`POST /admin/files`, `GET|DELETE /admin/files/{*key}`).
    pub fn with_files(mut self, files: crate::files::FilesAdmin) -> Self {
        self.files = Some(Arc::new(files));
        self
    }
}

impl std::ops::Deref for AdminState {
    type Target = AdminServices;
    fn deref(&self) -> &AdminServices {
        &self.services
    }
}
