//! `FileError`: every way a file-store call fails, and `SignatureError`: why a signed URL is refused.
//!
//! Messages are lower-case and name the key, URL or limit involved. URLs are shown with their secrets
//! removed ([`redact_url`]); file contents never appear in an error.

/// The error of every [`FileStore`](crate::FileStore) call, of [`open`](crate::open) and of
/// [`UrlSigner::new`](crate::UrlSigner::new).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("invalid file store url `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("invalid file key `{}`: {reason}", key.escape_debug())]
    InvalidKey { key: String, reason: &'static str },

    #[error("invalid content type `{}` for file `{key}`", content_type.escape_debug())]
    InvalidContentType { key: String, content_type: String },

    #[error("file `{key}` does not exist")]
    NotFound { key: String },

    #[error("cannot create the file directory `{path}`: {source}")]
    CreateDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("reading the content of file `{key}` failed: {source}")]
    Body {
        key: String,
        #[source]
        source: std::io::Error,
    },

    #[error("file store {backend} failed to {operation} `{key}`: {source}")]
    Storage {
        backend: &'static str,
        operation: &'static str,
        key: String,
        // Boxed: object_store's error is large and would make every `Result` of this crate large.
        #[source]
        source: Box<object_store::Error>,
    },

    #[error("invalid url signing secret: {0}")]
    InvalidSecret(&'static str),
}

impl FileError {
    /// Whether the file does not exist (the HTTP layer answers 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::NotFound { .. })
    }
}

/// Why [`UrlSigner::verify`](crate::UrlSigner::verify) refused a URL. Every variant means "no access";
/// they differ only so the answer can say whether asking for a fresh link helps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the link is not signed: `expires` and `signature` are required")]
    Missing,

    #[error("the link's signature is invalid")]
    Invalid,

    #[error("the link expired at {expired_at}")]
    Expired { expired_at: chrono::DateTime<chrono::Utc> },
}

/// Query parameters whose values are secrets and never shown.
const SECRET_PARAMETERS: [&str; 3] = ["secret_access_key", "session_token", "token"];

/// The URL with the values of secret query parameters and the password of its user info replaced by
/// `***`, so it can be logged and put into errors.
pub fn redact_url(url: &str) -> String {
    let (without_query, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((user_info, host)) => {
                    let user = user_info.split_once(':').map_or(user_info, |(user, _password)| user);
                    format!("{scheme}://{user}:***@{host}{path}")
                }
                None => without_query.to_owned(),
            }
        }
        None => without_query.to_owned(),
    };
    let Some(query) = query else {
        return base;
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _value)) if SECRET_PARAMETERS.contains(&name) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_secrets_only() {
        assert_eq!(
            redact_url("s3://bucket/p?endpoint=http://127.0.0.1:9000&access_key_id=kontor&secret_access_key=s3cr3t"),
            "s3://bucket/p?endpoint=http://127.0.0.1:9000&access_key_id=kontor&secret_access_key=***"
        );
        assert_eq!(
            redact_url("s3://bucket?session_token=abc"),
            "s3://bucket?session_token=***"
        );
        assert_eq!(redact_url("s3://user:pw@bucket/x"), "s3://user:***@bucket/x");
        assert_eq!(redact_url("file:///srv/files"), "file:///srv/files");
    }
}
