//! SeaORM entities of the checkout, sales and OMS tables; see the orders migration for their meaning.

pub mod shipment_method {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_method")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub method_key: String,
        pub name: String,
        pub carrier_name: String,
        pub delivery_time: Option<String>,
        pub tax_set_id: Option<i64>,
        pub is_active: bool,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod shipment_method_store {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_method_store")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub shipment_method_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub store_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod shipment_method_price {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_method_price")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub shipment_method_id: i64,
        pub store_id: i64,
        pub currency_id: i64,
        pub net_amount: Option<i64>,
        pub gross_amount: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payment_method {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_method")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub method_key: String,
        pub name: String,
        pub provider_key: String,
        pub provider_name: String,
        pub priority: i32,
        pub is_active: bool,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payment_method_store {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_method_store")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub payment_method_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub store_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sales_order_reference_sequence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sales_order_reference_sequence")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub store_id: i64,
        pub last_number: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sales_order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sales_order")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_reference: String,
        pub store_id: i64,
        pub owner_key: String,
        pub customer_reference: Option<String>,
        pub idempotency_key: Option<String>,
        pub email: String,
        pub salutation: Option<String>,
        pub first_name: String,
        pub last_name: String,
        pub locale: String,
        pub currency_code: String,
        pub price_mode: String,
        pub subtotal: i64,
        pub expense_total: i64,
        pub tax_total: i64,
        pub grand_total: i64,
        pub canceled_total: i64,
        pub refunded_total: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sales_order_address {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sales_order_address")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_id: i64,
        pub kind: String,
        pub salutation: Option<String>,
        pub first_name: String,
        pub last_name: String,
        pub address1: String,
        pub address2: Option<String>,
        pub address3: Option<String>,
        pub zip_code: String,
        pub city: String,
        pub iso2_code: String,
        pub company: Option<String>,
        pub phone: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sales_shipment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sales_shipment")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_id: i64,
        pub shipment_method_id: Option<i64>,
        pub method_key: String,
        pub method_name: String,
        pub carrier_name: String,
        pub address_id: Option<i64>,
        pub requested_delivery_date: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sales_order_item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sales_order_item")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub uuid: String,
        pub order_id: i64,
        pub shipment_id: Option<i64>,
        pub sku: String,
        pub abstract_sku: String,
        pub name: String,
        pub quantity: i64,
        pub unit_price: i64,
        pub sum_price: i64,
        pub tax_rate_basis_points: i32,
        pub sum_tax_amount: i64,
        pub canceled_amount: i64,
        pub refunded_amount: i64,
        pub oms_process: String,
        pub oms_state: String,
        pub oms_state_entered_at: i64,
        pub oms_last_checked_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sales_expense {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sales_expense")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_id: i64,
        pub kind: String,
        pub name: String,
        pub unit_price: i64,
        pub sum_price: i64,
        pub tax_rate_basis_points: i32,
        pub sum_tax_amount: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sales_payment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sales_payment")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_id: i64,
        pub provider: String,
        pub method: String,
        pub amount: i64,
        pub status: String,
        pub captured_amount: i64,
        pub refunded_amount: i64,
        pub external_reference: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod oms_state_history {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oms_state_history")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_item_id: i64,
        pub process: String,
        pub state: String,
        pub entered_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod oms_event_timeout {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oms_event_timeout")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_item_id: i64,
        pub order_id: i64,
        pub state: String,
        pub event: String,
        pub due_at: i64,
        pub attempts: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod oms_transition_log {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oms_transition_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub order_id: i64,
        pub order_item_id: i64,
        pub event: Option<String>,
        pub source_state: String,
        pub target_state: Option<String>,
        pub command_key: Option<String>,
        pub condition_key: Option<String>,
        pub origin: String,
        pub is_error: bool,
        pub error_message: Option<String>,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod oms_lock {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oms_lock")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub identifier: String,
        pub holder: String,
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod oms_product_reservation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oms_product_reservation")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub sku: String,
        pub store_id: i64,
        pub quantity: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod oms_command_run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oms_command_run")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idempotency_key: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
