//! Kontor's vocabulary: the small value types every other crate speaks in.
//!
//! Everything here is pure (no I/O) and cheap to copy or clone. Values that come from the outside world
//! are parsed once at the boundary (`Sku::parse`, `CurrencyCode::parse`) so that code further in never
//! handles an unchecked string; money is always integer minor units with its currency.

pub mod clock;
pub mod ids;
pub mod money;
pub mod names;
pub mod paging;
pub mod redact;

pub use clock::{Clock, SystemClock};
pub use money::{CurrencyCode, Money};
pub use names::{LocaleName, NameError, Sku, StoreName};
pub use paging::{Page, PageRequest};
