//! The HTTP kit shared by the Back Office and the storefront: the one error type and its stable code
//! table ([`AppError`]), JSON:API documents and request parsing that names the offending field
//! ([`jsonapi`]), query-parameter parsing ([`query`]), the routes that serve stored files ([`files`]), and the kit of the HTML surfaces ([`html`]).

pub mod access_token;
pub mod error;
pub mod files;
pub mod html;
pub mod jsonapi;
pub mod query;

pub use error::{AppError, ErrorCode};
pub use jsonapi::{JSON_API_MEDIA_TYPE, JsonApi, JsonApiRequest};
