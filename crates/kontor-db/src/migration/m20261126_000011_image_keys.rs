//! Natural keys of image sets and images (issue 7, the `product-image` data set): Spryker's
//! `product_image_set_key` and `product_image_key`, so that a re-imported `product_image.csv` finds the
//! set and image it created before instead of adding copies.
//!
//! Both columns are nullable (sets and images made without a key stay valid) and unique when given:
//! SQLite, PostgreSQL and MariaDB all allow any number of NULLs in a unique index. One `ALTER TABLE`
//! per column, because SQLite takes only one change per statement; `down` drops the index before the
//! column, because SQLite refuses to drop an indexed column.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000011_image_keys"
    }
}

/// `(table, key column)`; each gets the unique index `uq_<table>_<column>`.
const KEYS: [(&str, &str); 2] = [
    ("product_image_set", "product_image_set_key"),
    ("product_image", "product_image_key"),
];

fn index_name(table: &str, column: &str) -> String {
    format!("uq_{table}_{column}")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in KEYS {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new(column).string_len(255).null())
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(index_name(table, column))
                        .table(table)
                        .col(column)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in KEYS.iter().rev() {
            manager
                .drop_index(Index::drop().name(index_name(table, column)).table(*table).to_owned())
                .await?;
            manager
                .alter_table(Table::alter().table(*table).drop_column(*column).to_owned())
                .await?;
        }
        Ok(())
    }
}
