//! Helpers that keep the migrations short and the conventions uniform: `bigint` ids, timestamps as
//! epoch microseconds (portable and exact on all three engines), named unique indexes `uq_<table>_<cols>`
//! that the repositories map back to field names, and utf8mb4 with binary collation on MariaDB so that
//! uniqueness and ordering mean the same as on PostgreSQL and SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct TableBuilder {
    backend: DbBackend,
    name: String,
    statement: TableCreateStatement,
    indexes: Vec<IndexCreateStatement>,
}

impl TableBuilder {
    pub fn new(backend: DbBackend, name: impl Into<String>) -> Self {
        let name = name.into();
        let mut statement = Table::create();
        statement.table(name.clone());
        if backend == DbBackend::MySql {
            statement
                .engine("InnoDB")
                .character_set("utf8mb4")
                .collate("utf8mb4_bin");
        }
        Self {
            backend,
            name,
            statement,
            indexes: Vec::new(),
        }
    }

    pub fn id(mut self) -> Self {
        self.statement.col(
            ColumnDef::new("id")
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        );
        self
    }

    pub fn string(mut self, column: &'static str, length: u32) -> Self {
        self.statement.col(ColumnDef::new(column).string_len(length).not_null());
        self
    }

    pub fn string_null(mut self, column: &'static str, length: u32) -> Self {
        self.statement.col(ColumnDef::new(column).string_len(length).null());
        self
    }

    /// Unbounded text: `longtext` on MariaDB (whose `text` stops at 64 KiB), `text` elsewhere.
    pub fn text(mut self, column: &'static str) -> Self {
        self.statement.col(text_column(self.backend, column).not_null());
        self
    }

    /// Nullable unbounded text (JSON documents, lists).
    pub fn text_null(mut self, column: &'static str) -> Self {
        self.statement.col(text_column(self.backend, column).null());
        self
    }

    pub fn boolean(mut self, column: &'static str, default: bool) -> Self {
        self.statement
            .col(ColumnDef::new(column).boolean().not_null().default(default));
        self
    }

    pub fn integer(mut self, column: &'static str, default: i32) -> Self {
        self.statement
            .col(ColumnDef::new(column).integer().not_null().default(default));
        self
    }

    pub fn big_integer(mut self, column: &'static str) -> Self {
        self.statement.col(ColumnDef::new(column).big_integer().not_null());
        self
    }

    pub fn big_integer_null(mut self, column: &'static str) -> Self {
        self.statement.col(ColumnDef::new(column).big_integer().null());
        self
    }

    /// A timestamp in microseconds since the Unix epoch.
    pub fn timestamp(self, column: &'static str) -> Self {
        self.big_integer(column)
    }

    pub fn timestamp_null(self, column: &'static str) -> Self {
        self.big_integer_null(column)
    }

    /// `created_at` and `updated_at`.
    pub fn timestamps(self) -> Self {
        self.timestamp("created_at").timestamp("updated_at")
    }

    /// A `bigint` reference column with its foreign key.
    pub fn reference(mut self, column: &'static str, target: &'static str, on_delete: ForeignKeyAction) -> Self {
        self.statement.col(ColumnDef::new(column).big_integer().not_null());
        self.foreign_key(column, target, on_delete)
    }

    pub fn reference_null(mut self, column: &'static str, target: &'static str, on_delete: ForeignKeyAction) -> Self {
        self.statement.col(ColumnDef::new(column).big_integer().null());
        self.foreign_key(column, target, on_delete)
    }

    fn foreign_key(mut self, column: &'static str, target: &'static str, on_delete: ForeignKeyAction) -> Self {
        self.statement.foreign_key(
            ForeignKey::create()
                .name(format!("fk_{}_{column}", self.name))
                .from(self.name.clone(), column)
                .to(target, "id")
                .on_delete(on_delete)
                .on_update(ForeignKeyAction::Cascade),
        );
        self
    }

    pub fn primary_key(mut self, columns: &[&'static str]) -> Self {
        let mut key = Index::create();
        for column in columns {
            key.col(*column);
        }
        self.statement.primary_key(&mut key);
        self
    }

    /// A unique index named `uq_<table>_<columns>`; repositories map its violations to a field.
    pub fn unique(mut self, columns: &[&'static str]) -> Self {
        let mut index = Index::create();
        index
            .name(format!("uq_{}_{}", self.name, columns.join("_")))
            .table(self.name.clone())
            .unique();
        for column in columns {
            index.col(*column);
        }
        self.indexes.push(index);
        self
    }

    pub fn index(mut self, columns: &[&'static str]) -> Self {
        let mut index = Index::create();
        index
            .name(format!("ix_{}_{}", self.name, columns.join("_")))
            .table(self.name.clone());
        for column in columns {
            index.col(*column);
        }
        self.indexes.push(index);
        self
    }

    pub async fn create(mut self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        manager.create_table(self.statement.take()).await?;
        for index in self.indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }
}

/// An unbounded text column: `longtext` on MariaDB (whose `text` stops at 64 KiB), `text` elsewhere; also
/// for columns added to existing tables.
pub(crate) fn text_column(backend: DbBackend, column: &'static str) -> ColumnDef {
    let mut definition = ColumnDef::new(column);
    if backend == DbBackend::MySql {
        definition.custom("longtext");
    } else {
        definition.text();
    }
    definition
}
