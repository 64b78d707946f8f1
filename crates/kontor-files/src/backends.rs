//! Choosing and building a backend from the `files.url` setting.
//!
//! - empty or `file://` — the directory `<data_dir>/files` (the embedded default);
//! - `file:///abs/path` — that directory; `file://rel/path` — `<data_dir>/rel/path`;
//! - `s3://bucket[/prefix]?endpoint=…&region=…&allow_http=true&access_key_id=…&secret_access_key=…` — an
//!   S3-compatible bucket, optionally under a key prefix (several deployments or test runs can share a
//!   bucket). Credentials come from the URL or from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
//!   (`AWS_SESSION_TOKEN` optional); without either, opening fails rather than probing a cloud metadata
//!   service. The region comes from the URL, `AWS_REGION`, or defaults to `us-east-1`;
//! - `memory://` — a store in memory, for tests of other crates.

use crate::FileStore;
use crate::error::{FileError, redact_url};
use crate::object::{ContentTypes, ObjectFileStore};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The directory under the data dir that holds files when the URL names none.
pub const DEFAULT_DIRECTORY: &str = "files";

/// Region used when neither the URL nor `AWS_REGION` names one (S3-compatible servers ignore it).
const DEFAULT_REGION: &str = "us-east-1";

/// What a URL asks for, before anything is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backend {
    Local(PathBuf),
    S3(S3Settings),
    Memory,
}

/// The S3 settings of a URL. `Debug` leaves the secrets out.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct S3Settings {
    pub bucket: String,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub region: String,
    pub allow_http: bool,
    pub virtual_hosted: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted", &self.virtual_hosted)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Reads the environment; a seam so URL parsing can be tested without touching the process's env.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

pub(crate) fn parse(url: &str, data_dir: &Path, env: EnvLookup<'_>) -> Result<Backend, FileError> {
    let invalid = |reason: &str| FileError::InvalidUrl {
        url: redact_url(url),
        reason: reason.to_owned(),
    };
    let url = url.trim();
    if url.is_empty() {
        return Ok(Backend::Local(data_dir.join(DEFAULT_DIRECTORY)));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid(
            "expected `file:///abs/path`, `file://path/under/data/dir`, `s3://bucket?…` or `memory://`",
        ));
    };
    match scheme {
        "file" => {
            if rest.contains('?') || rest.contains('#') {
                return Err(invalid("`file://` takes a path only"));
            }
            let path = if rest.is_empty() {
                data_dir.join(DEFAULT_DIRECTORY)
            } else if rest.starts_with('/') {
                PathBuf::from(rest)
            } else {
                data_dir.join(rest)
            };
            Ok(Backend::Local(path))
        }
        "s3" => parse_s3(url, env).map(Backend::S3),
        "memory" if rest.is_empty() => Ok(Backend::Memory),
        "memory" => Err(invalid("`memory://` takes no path")),
        _ => Err(invalid("unknown scheme, expected `file`, `s3` or `memory`")),
    }
}

fn parse_s3(raw_url: &str, env: EnvLookup<'_>) -> Result<S3Settings, FileError> {
    let invalid = |reason: String| FileError::InvalidUrl {
        url: redact_url(raw_url),
        reason,
    };
    let url = url::Url::parse(raw_url).map_err(|error| invalid(error.to_string()))?;
    let bucket = url.host_str().unwrap_or_default().to_owned();
    if bucket.is_empty() {
        return Err(invalid("`s3://` needs a bucket: `s3://bucket[/prefix]?…`".to_owned()));
    }
    let prefix = url.path().trim_matches('/');
    let prefix = (!prefix.is_empty()).then(|| prefix.to_owned());
    let mut endpoint = None;
    let mut region = None;
    let mut allow_http = false;
    let mut virtual_hosted = false;
    let mut access_key_id = None;
    let mut secret_access_key = None;
    let mut session_token = None;
    let flag = |name: &str, value: &str| match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(format!("`{name}` must be true or false"))),
    };
    for (name, value) in url.query_pairs() {
        let value = value.into_owned();
        match name.as_ref() {
            "endpoint" => endpoint = Some(value),
            "region" => region = Some(value),
            "allow_http" => allow_http = flag("allow_http", &value)?,
            "virtual_hosted" => virtual_hosted = flag("virtual_hosted", &value)?,
            "access_key_id" => access_key_id = Some(value),
            "secret_access_key" => secret_access_key = Some(value),
            "session_token" => session_token = Some(value),
            other => {
                return Err(invalid(format!(
                    "unknown parameter `{other}`; known: endpoint, region, allow_http, virtual_hosted, \
                     access_key_id, secret_access_key, session_token"
                )));
            }
        }
    }
    // Credentials come as a pair from one place, so a URL key is never combined with an env secret.
    let (access_key_id, secret_access_key, session_token) = match (access_key_id, secret_access_key) {
        (Some(id), Some(secret)) => (id, secret, session_token),
        (None, None) => match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => (id, secret, session_token.or_else(|| env("AWS_SESSION_TOKEN"))),
            _ => {
                return Err(invalid(
                    "no credentials: give `access_key_id` and `secret_access_key` in the url or set \
                     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                        .to_owned(),
                ));
            }
        },
        _ => {
            return Err(invalid(
                "`access_key_id` and `secret_access_key` are given together".to_owned(),
            ));
        }
    };
    if let Some(endpoint) = &endpoint
        && url::Url::parse(endpoint).is_err()
    {
        return Err(invalid(format!("`endpoint` is not a url: `{endpoint}`")));
    }
    Ok(S3Settings {
        bucket,
        prefix,
        endpoint,
        region: region
            .or_else(|| env("AWS_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        allow_http,
        virtual_hosted,
        access_key_id,
        secret_access_key,
        session_token,
    })
}

pub(crate) async fn build(backend: Backend, url: &str) -> Result<Arc<dyn FileStore>, FileError> {
    match backend {
        Backend::Local(directory) => open_local(&directory),
        Backend::Memory => Ok(Arc::new(ObjectFileStore::new(
            Arc::new(InMemory::new()),
            "memory",
            ContentTypes::Attribute,
        ))),
        Backend::S3(settings) => open_s3(settings, url).await,
    }
}

fn open_local(directory: &Path) -> Result<Arc<dyn FileStore>, FileError> {
    std::fs::create_dir_all(directory).map_err(|source| FileError::CreateDirectory {
        path: directory.display().to_string(),
        source,
    })?;
    let store = LocalFileSystem::new_with_prefix(directory)
        .map_err(|source| FileError::Storage {
            backend: "local",
            operation: "open",
            key: directory.display().to_string(),
            source: Box::new(source),
        })?
        // Deleting the last file of a directory removes the directory, so the tree mirrors the keys.
        .with_automatic_cleanup(true);
    Ok(Arc::new(ObjectFileStore::new(
        Arc::new(store),
        "local",
        ContentTypes::Sidecar,
    )))
}

async fn open_s3(settings: S3Settings, url: &str) -> Result<Arc<dyn FileStore>, FileError> {
    let storage_error = |operation: &'static str, source: object_store::Error| FileError::Storage {
        backend: "s3",
        operation,
        key: redact_url(url),
        source: Box::new(source),
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_region(&settings.region)
        .with_access_key_id(&settings.access_key_id)
        .with_secret_access_key(&settings.secret_access_key)
        .with_virtual_hosted_style_request(settings.virtual_hosted)
        // A few quick retries: an outage should fail a request in seconds, not after minutes of backoff.
        .with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        })
        // `allow_http` lives in the client options, so it is set here: setting it on the builder before
        // `with_client_options` would be overwritten.
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(settings.allow_http)
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(300)),
        );
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(token) = &settings.session_token {
        builder = builder.with_token(token);
    }
    let s3 = builder.build().map_err(|source| storage_error("configure", source))?;
    let store: Arc<dyn ObjectStore> = match settings.prefix {
        Some(prefix) => Arc::new(PrefixStore::new(s3, prefix.as_str())),
        None => Arc::new(s3),
    };
    // One listing call proves the endpoint, bucket and credentials now rather than on the first upload.
    store
        .list_with_delimiter(None)
        .await
        .map_err(|source| storage_error("reach the bucket of", source))?;
    Ok(Arc::new(ObjectFileStore::new(store, "s3", ContentTypes::Attribute)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_without_env(url: &str) -> Result<Backend, FileError> {
        parse(url, Path::new("/srv/kontor/var"), &no_env)
    }

    #[test]
    fn local_paths_default_to_the_data_dir() {
        let default = Backend::Local(PathBuf::from("/srv/kontor/var/files"));
        assert_eq!(parse_without_env("").expect("empty"), default);
        assert_eq!(parse_without_env("file://").expect("bare"), default);
        assert_eq!(
            parse_without_env("file://uploads/files").expect("relative"),
            Backend::Local(PathBuf::from("/srv/kontor/var/uploads/files"))
        );
        assert_eq!(
            parse_without_env("file:///mnt/files").expect("absolute"),
            Backend::Local(PathBuf::from("/mnt/files"))
        );
        assert_eq!(parse_without_env("memory://").expect("memory"), Backend::Memory);
        assert!(parse_without_env("ftp://x").is_err());
        assert!(parse_without_env("/var/files").is_err());
    }

    #[test]
    fn s3_urls_carry_endpoint_prefix_and_credentials() {
        let url = "s3://kontor-files/shop1?endpoint=http://127.0.0.1:9000&allow_http=true&access_key_id=id&secret_access_key=s3cr3t";
        let Backend::S3(settings) = parse_without_env(url).expect("s3") else {
            panic!("not s3");
        };
        assert_eq!(settings.bucket, "kontor-files");
        assert_eq!(settings.prefix.as_deref(), Some("shop1"));
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(settings.region, "us-east-1");
        assert!(settings.allow_http);
        assert_eq!(settings.access_key_id, "id");
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }

    #[test]
    fn s3_credentials_fall_back_to_the_environment() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("env-id".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("env-secret".to_owned()),
            "AWS_REGION" => Some("eu-central-1".to_owned()),
            _ => None,
        };
        let Backend::S3(settings) = parse("s3://bucket", Path::new("var"), &env).expect("s3") else {
            panic!("not s3");
        };
        assert_eq!(settings.access_key_id, "env-id");
        assert_eq!(settings.secret_access_key, "env-secret");
        assert_eq!(settings.region, "eu-central-1");
        assert_eq!(settings.prefix, None);
    }

    #[test]
    fn bad_s3_urls_are_explained_without_secrets() {
        let missing = parse_without_env("s3://bucket")
            .expect_err("no credentials")
            .to_string();
        assert!(missing.contains("AWS_ACCESS_KEY_ID"), "{missing}");
        let typo = parse_without_env("s3://bucket?access_key_id=a&secret_access_key=s3cr3t&regoin=x")
            .expect_err("unknown parameter")
            .to_string();
        assert!(typo.contains("`regoin`"), "{typo}");
        assert!(!typo.contains("s3cr3t"), "{typo}");
        let half = parse_without_env("s3://bucket?secret_access_key=s3cr3t")
            .expect_err("half a pair")
            .to_string();
        assert!(!half.contains("s3cr3t"), "{half}");
        assert!(parse_without_env("s3:///nobucket?access_key_id=a&secret_access_key=b").is_err());
    }
}
