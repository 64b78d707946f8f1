//! SeaORM entities of the customers tables.
