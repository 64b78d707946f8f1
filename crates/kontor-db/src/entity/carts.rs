//! SeaORM entities of the carts tables.
