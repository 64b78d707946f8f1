//! The error policy, in one place.
//!
//! Every failure leaves the HTTP layer as a JSON:API error document (`{"errors": [...]}`) with the
//! numeric `status`, a stable string `code` from [`ErrorCode`], a `detail` written for the client and,
//! for field problems, `source.pointer` (or `source.parameter` for query parameters). Codes never change
//! meaning once released. Internal details (SQL, stack traces) are logged with a correlation id and
//! never sent: a 500 says only that something failed.

use axum::http::StatusCode;
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use kontor_domain::DomainError;
use serde::Serialize;

/// Stable error codes. Storefront codes follow Glue's ranges (`../shared/spec/storefront-api.md` §5);
/// the 9xx range is shared by both APIs for transport and validation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 001: the access token is invalid, expired or revoked.
    InvalidAccessToken,
    /// 002: a protected resource was called without a token (403, as Glue does).
    MissingAccessToken,
    /// 003: wrong e-mail or password (one answer for both).
    LoginFailed,
    /// 004: the refresh token is unknown, used, expired or revoked.
    RefreshFailed,
    /// 009: too many failed logins for the account or address.
    TooManyLoginAttempts,
    /// 101: no such cart for this customer or guest.
    CartNotFound,
    /// 102: the item could not be added.
    CartItemFailed,
    /// 103: no item with this group key in the cart.
    CartItemNotFound,
    /// 104: the path lacks the cart id.
    CartIdMissing,
    /// 105: the cart cannot be deleted.
    CartCannotBeDeleted,
    /// 106: the item cannot be deleted.
    CartItemCannotBeDeleted,
    /// 107: the cart could not be created.
    CartCreateFailed,
    /// 109: `X-Anonymous-Customer-Unique-Id` is missing or empty.
    AnonymousIdMissing,
    /// 110: the customer already has a cart (single-cart mode).
    CustomerHasCart,
    /// 111: the price mode cannot change while the cart has items.
    PriceModeLocked,
    /// 112: the store is unknown.
    StoreInvalid,
    /// 113: unknown or inactive SKU, or quantity above availability.
    ItemCannotBeAdded,
    /// 114: the item quantity cannot be changed.
    ItemCannotBeUpdated,
    /// 115: the caller may not act on this cart.
    CartActionForbidden,
    /// 116: a cart needs a currency.
    CurrencyMissing,
    /// 117: the currency is not offered by the store.
    CurrencyIncorrect,
    /// 118: a cart needs a price mode.
    PriceModeMissing,
    /// 119: the price mode is not GROSS_MODE or NET_MODE.
    PriceModeIncorrect,
    /// 301: no abstract product with this SKU in the store.
    AbstractProductNotFound,
    /// 302: no concrete product with this SKU.
    ConcreteProductNotFound,
    /// 302 as well (Glue's ProductReviewsRestApi reuses it): no approved review with this id.
    ProductReviewNotFound,
    /// 311: the path lacks the abstract SKU.
    AbstractSkuMissing,
    /// 312: the path lacks the concrete SKU.
    ConcreteSkuMissing,
    /// 313: the `currency` parameter is not a currency of the store.
    CurrencyInvalid,
    /// 314: the `priceMode` parameter is not GROSS_MODE or NET_MODE.
    PriceModeInvalid,
    /// 402: a customer with this e-mail exists.
    EmailTaken,
    /// 404: no such customer (or not the caller's).
    CustomerNotFound,
    /// 406: password and confirmation differ.
    PasswordsDoNotMatch,
    /// 411: no such address of the customer.
    AddressNotFound,
    /// 503: a catalog-search paging parameter is not an integer.
    SearchParameterNotInteger,
    /// 703: no such category node.
    CategoryNodeNotFound,
    /// 801: no such order of the customer.
    OrderNotFound,
    /// 1101: checkout data is invalid (customer, addresses, shipments).
    CheckoutDataInvalid,
    /// 1102: the order cannot be placed (prices or availability changed, out of stock).
    OrderNotPlaced,
    /// 1103: no such cart of the caller to check out.
    CheckoutCartNotFound,
    /// 1104: the cart is empty.
    CartEmpty,
    /// 1105: checkout needs an access token or `X-Anonymous-Customer-Unique-Id`.
    CheckoutCallerMissing,
    /// 1107: only one payment method per order.
    MultiplePayments,
    /// 1108: the payment method is not offered.
    PaymentMethodInvalid,
    /// 901: the data is well-formed but invalid.
    Unprocessable,
    /// 902: the value is taken, or the record is still referenced.
    Conflict,
    /// 903: no such resource or id.
    NotFound,
    /// 904: the body is not valid JSON or not a JSON:API document.
    MalformedBody,
    /// 905: a query parameter is unknown or malformed.
    InvalidParameter,
    /// 906: the request's media type is not JSON:API or JSON.
    UnsupportedMediaType,
    /// 909: the client accepts no media type this API answers with (406).
    NotAcceptable,
    /// 910: the request body is larger than this endpoint accepts (413).
    PayloadTooLarge,
    /// 907: the path exists but not with this method.
    MethodNotAllowed,
    /// 908: the signed-in user may not do this.
    Forbidden,
    /// 998: a backend this request needs is unreachable.
    Unavailable,
    /// 999: something failed on our side; details are in the log.
    Internal,
}

impl ErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::InvalidAccessToken => "001",
            ErrorCode::MissingAccessToken => "002",
            ErrorCode::LoginFailed => "003",
            ErrorCode::RefreshFailed => "004",
            ErrorCode::TooManyLoginAttempts => "009",
            ErrorCode::CartNotFound => "101",
            ErrorCode::CartItemFailed => "102",
            ErrorCode::CartItemNotFound => "103",
            ErrorCode::CartIdMissing => "104",
            ErrorCode::CartCannotBeDeleted => "105",
            ErrorCode::CartItemCannotBeDeleted => "106",
            ErrorCode::CartCreateFailed => "107",
            ErrorCode::AnonymousIdMissing => "109",
            ErrorCode::CustomerHasCart => "110",
            ErrorCode::PriceModeLocked => "111",
            ErrorCode::StoreInvalid => "112",
            ErrorCode::ItemCannotBeAdded => "113",
            ErrorCode::ItemCannotBeUpdated => "114",
            ErrorCode::CartActionForbidden => "115",
            ErrorCode::CurrencyMissing => "116",
            ErrorCode::CurrencyIncorrect => "117",
            ErrorCode::PriceModeMissing => "118",
            ErrorCode::PriceModeIncorrect => "119",
            ErrorCode::AbstractProductNotFound => "301",
            ErrorCode::ConcreteProductNotFound => "302",
            ErrorCode::ProductReviewNotFound => "302",
            ErrorCode::AbstractSkuMissing => "311",
            ErrorCode::ConcreteSkuMissing => "312",
            ErrorCode::CurrencyInvalid => "313",
            ErrorCode::PriceModeInvalid => "314",
            ErrorCode::EmailTaken => "402",
            ErrorCode::CustomerNotFound => "404",
            ErrorCode::PasswordsDoNotMatch => "406",
            ErrorCode::AddressNotFound => "411",
            ErrorCode::SearchParameterNotInteger => "503",
            ErrorCode::CategoryNodeNotFound => "703",
            ErrorCode::OrderNotFound => "801",
            ErrorCode::CheckoutDataInvalid => "1101",
            ErrorCode::OrderNotPlaced => "1102",
            ErrorCode::CheckoutCartNotFound => "1103",
            ErrorCode::CartEmpty => "1104",
            ErrorCode::CheckoutCallerMissing => "1105",
            ErrorCode::MultiplePayments => "1107",
            ErrorCode::PaymentMethodInvalid => "1108",
            ErrorCode::Unprocessable => "901",
            ErrorCode::Conflict => "902",
            ErrorCode::NotFound => "903",
            ErrorCode::MalformedBody => "904",
            ErrorCode::InvalidParameter => "905",
            ErrorCode::UnsupportedMediaType => "906",
            ErrorCode::MethodNotAllowed => "907",
            ErrorCode::NotAcceptable => "909",
            ErrorCode::PayloadTooLarge => "910",
            ErrorCode::Forbidden => "908",
            ErrorCode::Unavailable => "998",
            ErrorCode::Internal => "999",
        }
    }

    /// Every code, for lookups by number and for the documentation table.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidAccessToken,
        ErrorCode::MissingAccessToken,
        ErrorCode::LoginFailed,
        ErrorCode::RefreshFailed,
        ErrorCode::TooManyLoginAttempts,
        ErrorCode::CartNotFound,
        ErrorCode::CartItemFailed,
        ErrorCode::CartItemNotFound,
        ErrorCode::CartIdMissing,
        ErrorCode::CartCannotBeDeleted,
        ErrorCode::CartItemCannotBeDeleted,
        ErrorCode::CartCreateFailed,
        ErrorCode::AnonymousIdMissing,
        ErrorCode::CustomerHasCart,
        ErrorCode::PriceModeLocked,
        ErrorCode::StoreInvalid,
        ErrorCode::ItemCannotBeAdded,
        ErrorCode::ItemCannotBeUpdated,
        ErrorCode::CartActionForbidden,
        ErrorCode::CurrencyMissing,
        ErrorCode::CurrencyIncorrect,
        ErrorCode::PriceModeMissing,
        ErrorCode::PriceModeIncorrect,
        ErrorCode::AbstractProductNotFound,
        ErrorCode::ConcreteProductNotFound,
        ErrorCode::ProductReviewNotFound,
        ErrorCode::AbstractSkuMissing,
        ErrorCode::ConcreteSkuMissing,
        ErrorCode::CurrencyInvalid,
        ErrorCode::PriceModeInvalid,
        ErrorCode::EmailTaken,
        ErrorCode::CustomerNotFound,
        ErrorCode::PasswordsDoNotMatch,
        ErrorCode::AddressNotFound,
        ErrorCode::SearchParameterNotInteger,
        ErrorCode::CategoryNodeNotFound,
        ErrorCode::OrderNotFound,
        ErrorCode::CheckoutDataInvalid,
        ErrorCode::OrderNotPlaced,
        ErrorCode::CheckoutCartNotFound,
        ErrorCode::CartEmpty,
        ErrorCode::CheckoutCallerMissing,
        ErrorCode::MultiplePayments,
        ErrorCode::PaymentMethodInvalid,
        ErrorCode::Unprocessable,
        ErrorCode::Conflict,
        ErrorCode::NotFound,
        ErrorCode::MalformedBody,
        ErrorCode::InvalidParameter,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NotAcceptable,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Forbidden,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code with this number, e.g. from a backend gateway rejection.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|candidate| candidate.code() == code)
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidAccessToken => StatusCode::UNAUTHORIZED,
            ErrorCode::LoginFailed | ErrorCode::RefreshFailed => StatusCode::UNAUTHORIZED,
            ErrorCode::TooManyLoginAttempts => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::CartNotFound
            | ErrorCode::CartItemNotFound
            | ErrorCode::AbstractProductNotFound
            | ErrorCode::ConcreteProductNotFound
            | ErrorCode::ProductReviewNotFound
            | ErrorCode::CustomerNotFound
            | ErrorCode::AddressNotFound
            | ErrorCode::CategoryNodeNotFound
            | ErrorCode::OrderNotFound
            | ErrorCode::CheckoutCartNotFound => StatusCode::NOT_FOUND,
            ErrorCode::CheckoutDataInvalid
            | ErrorCode::OrderNotPlaced
            | ErrorCode::CartEmpty
            | ErrorCode::MultiplePayments
            | ErrorCode::PaymentMethodInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::CheckoutCallerMissing => StatusCode::BAD_REQUEST,
            ErrorCode::CartItemFailed
            | ErrorCode::CartCannotBeDeleted
            | ErrorCode::CartItemCannotBeDeleted
            | ErrorCode::CartCreateFailed
            | ErrorCode::CustomerHasCart
            | ErrorCode::PriceModeLocked
            | ErrorCode::ItemCannotBeAdded
            | ErrorCode::ItemCannotBeUpdated
            | ErrorCode::CurrencyMissing
            | ErrorCode::CurrencyIncorrect
            | ErrorCode::PriceModeMissing
            | ErrorCode::PriceModeIncorrect
            | ErrorCode::CurrencyInvalid
            | ErrorCode::PriceModeInvalid
            | ErrorCode::EmailTaken
            | ErrorCode::PasswordsDoNotMatch => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::CartIdMissing
            | ErrorCode::AnonymousIdMissing
            | ErrorCode::StoreInvalid
            | ErrorCode::AbstractSkuMissing
            | ErrorCode::ConcreteSkuMissing
            | ErrorCode::SearchParameterNotInteger => StatusCode::BAD_REQUEST,
            ErrorCode::CartActionForbidden => StatusCode::FORBIDDEN,
            ErrorCode::MissingAccessToken | ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MalformedBody | ErrorCode::InvalidParameter => StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Where in the request the problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorSource {
    /// A JSON pointer into the request document, e.g. `/data/attributes/sku`.
    Pointer(String),
    /// A query parameter, e.g. `page[limit]`.
    Parameter(String),
}

/// One entry of a JSON:API `errors` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub source: Option<ErrorSource>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            source: None,
        }
    }

    pub fn at_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.source = Some(ErrorSource::Pointer(pointer.into()));
        self
    }

    pub fn at_parameter(mut self, parameter: impl Into<String>) -> Self {
        self.source = Some(ErrorSource::Parameter(parameter.into()));
        self
    }
}

/// The error every handler returns. All errors of one response share a status.
#[derive(Debug)]
pub struct AppError {
    errors: Vec<ApiError>,
    allow: Option<&'static str>,
    retry_after: Option<u64>,
}

impl AppError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::from(ApiError::new(code, detail))
    }

    pub fn at_pointer(code: ErrorCode, pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::from(ApiError::new(code, detail).at_pointer(pointer))
    }

    pub fn at_parameter(code: ErrorCode, parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::from(ApiError::new(code, detail).at_parameter(parameter))
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "the requested resource does not exist")
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut error = Self::new(ErrorCode::MethodNotAllowed, format!("this path only allows {allow}"));
        error.allow = Some(allow);
        error
    }

    /// Logs `cause` with a correlation id and answers a bare 500 that quotes only the id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let incident = incident_id();
        tracing::error!(incident = %incident, error = %cause, "request failed");
        Self::new(ErrorCode::Internal, format!("internal error, incident {incident}"))
    }

    /// Adds `Retry-After: seconds` (429 and 503 answers).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Several errors in one response (they should share a status).
    pub fn many(errors: Vec<ApiError>) -> Self {
        Self {
            errors,
            allow: None,
            retry_after: None,
        }
    }

    pub fn errors(&self) -> &[ApiError] {
        &self.errors
    }

    pub fn status(&self) -> StatusCode {
        self.errors
            .first()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, |error| error.code.status())
    }

    /// Re-roots field pointers of domain errors (relative to the attributes) under `prefix`.
    pub fn from_domain(error: DomainError, prefix: &str) -> Self {
        let pointer = |relative: &str| {
            if relative == "/" {
                prefix.trim_end_matches("/attributes").to_owned()
            } else {
                format!("{prefix}{relative}")
            }
        };
        match error {
            DomainError::Validation(fields) => {
                let errors = fields
                    .into_iter()
                    .map(|field| {
                        // Query-parameter problems (`filter[sku]`) are reported by name, not by pointer.
                        if field.pointer.starts_with('/') {
                            ApiError::new(ErrorCode::Unprocessable, field.detail).at_pointer(pointer(&field.pointer))
                        } else {
                            ApiError::new(ErrorCode::InvalidParameter, field.detail).at_parameter(field.pointer)
                        }
                    })
                    .collect();
                Self {
                    errors,
                    allow: None,
                    retry_after: None,
                }
            }
            DomainError::NotFound { resource, id } => {
                Self::new(ErrorCode::NotFound, format!("{resource} {id} does not exist"))
            }
            DomainError::Conflict { pointer: field, detail } => {
                Self::at_pointer(ErrorCode::Conflict, pointer(&field), detail)
            }
            DomainError::Unauthorized => Self::new(ErrorCode::InvalidAccessToken, "the access token is invalid"),
            DomainError::Storage(message) => Self::internal(&message),
        }
    }
}

impl From<ApiError> for AppError {
    fn from(error: ApiError) -> Self {
        Self {
            errors: vec![error],
            allow: None,
            retry_after: None,
        }
    }
}

/// A backend gateway failure as the storefront answers it: rejections keep their Glue code and pointer,
/// an unreachable backend is 503 (catalog reads are unaffected; only this write failed, and nothing changed).
impl From<kontor_domain::gateway::GatewayError> for AppError {
    fn from(error: kontor_domain::gateway::GatewayError) -> Self {
        use kontor_domain::gateway::GatewayError;
        match error {
            GatewayError::Rejected(rejections) if !rejections.is_empty() => {
                let errors = rejections
                    .into_iter()
                    .map(|rejection| {
                        let code = ErrorCode::from_code(&rejection.code).unwrap_or(ErrorCode::Unprocessable);
                        let error = ApiError::new(code, rejection.detail);
                        match rejection.pointer {
                            Some(pointer) => error.at_pointer(pointer),
                            None => error,
                        }
                    })
                    .collect::<Vec<_>>();
                // Throttled sign-ins: the window is 15 minutes, so that is the honest upper bound.
                let throttled = errors.iter().any(|error| error.code == ErrorCode::TooManyLoginAttempts);
                let error = Self::many(errors);
                if throttled { error.with_retry_after(900) } else { error }
            }
            GatewayError::Rejected(_) => Self::new(ErrorCode::Unprocessable, "the request was rejected"),
            GatewayError::Unavailable(reason) => {
                tracing::warn!(%reason, "backend gateway unavailable");
                Self::new(
                    ErrorCode::Unavailable,
                    "the shop backend is temporarily unavailable; nothing was changed, please retry",
                )
                .with_retry_after(5)
            }
            GatewayError::Internal(reason) => Self::internal(&reason),
        }
    }
}

impl From<DomainError> for AppError {
    fn from(error: DomainError) -> Self {
        Self::from_domain(error, "/data/attributes")
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let details: Vec<&str> = self.errors.iter().map(|error| error.detail.as_str()).collect();
        write!(f, "{}: {}", self.status(), details.join("; "))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errors: Vec<ErrorObject<'a>>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    status: u16,
    code: &'static str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a ErrorSource>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            errors: self
                .errors
                .iter()
                .map(|error| ErrorObject {
                    status: error.code.status().as_u16(),
                    code: error.code.code(),
                    detail: &error.detail,
                    source: error.source.as_ref(),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"errors\":[]}".to_vec());
        let mut response = (status, [(CONTENT_TYPE, crate::JSON_API_MEDIA_TYPE)], json).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
        }
        if let Some(allow) = self.allow
            && let Ok(value) = allow.parse()
        {
            response.headers_mut().insert(ALLOW, value);
        }
        response
    }
}

fn incident_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}-{:x}",
        nanos & 0xffff_ffff_ffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_domain::FieldError;

    #[test]
    fn domain_field_errors_point_into_the_document() {
        let error = AppError::from(DomainError::Validation(vec![
            FieldError::new("/sku", "is taken"),
            FieldError::new("filter[sku]", "not supported"),
        ]));
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error.errors()[0].source,
            Some(ErrorSource::Pointer("/data/attributes/sku".into()))
        );
        assert_eq!(
            error.errors()[1].source,
            Some(ErrorSource::Parameter("filter[sku]".into()))
        );
    }

    #[test]
    fn storage_errors_never_leak_their_message() {
        let error = AppError::from(DomainError::Storage("password authentication failed for user x".into()));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.errors()[0].detail.contains("password"));
    }

    #[test]
    fn record_level_conflicts_point_at_data() {
        let error = AppError::from(DomainError::conflict("/", "still referenced"));
        assert_eq!(error.status(), StatusCode::CONFLICT);
        assert_eq!(error.errors()[0].source, Some(ErrorSource::Pointer("/data".into())));
    }
}
