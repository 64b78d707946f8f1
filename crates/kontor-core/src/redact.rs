//! Connection URLs as they may be logged: the password of the user info hidden.

/// The URL without the password of its user info (`redis://user:secret@host` → `redis://user:***@host`),
/// so connection errors can be logged. Plain string work: also for URLs a URL parser would refuse.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = user_info.split_once(':').map_or(user_info, |(user, _password)| user);
    format!("{scheme}://{user}:***@{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(redact_url("redis://:secret@host:6379/2"), "redis://:***@host:6379/2");
        assert_eq!(redact_url("redis://app:secret@host"), "redis://app:***@host");
        assert_eq!(redact_url("redis://host:6379/0"), "redis://host:6379/0");
        assert_eq!(redact_url("redb://var/kv.redb"), "redb://var/kv.redb");
        assert_eq!(redact_url("memory://"), "memory://");
    }
}
