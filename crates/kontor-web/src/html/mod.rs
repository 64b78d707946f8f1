//! The kit of the server-rendered HTML surfaces (storefront shop and Back Office): themes of minijinja
//! templates and assets ([`theme`]), sessions in the KV store ([`session`]), CSRF tokens on every form
//! ([`csrf`]), form errors shown next to their fields ([`forms`]) and login throttling ([`throttle`]).

pub mod csrf;
pub mod forms;
pub mod session;
pub mod theme;
pub mod throttle;

pub use csrf::{CsrfProtection, CsrfToken, same_origin};
pub use forms::{FormErrors, FormFields};
pub use session::{Flash, Session, SessionStore, flash};
pub use theme::{Theme, ThemeDirs, ThemeError};
pub use throttle::{ClientAddress, LoginThrottle};
