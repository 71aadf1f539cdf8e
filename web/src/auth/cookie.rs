//! The session cookie (and the short-lived cookie that binds an OpenID sign-in to the browser that
//! started it): give it a secret, get the `Set-Cookie` value that stores it in the browser; give it a
//! request's headers, get the secret back.
//!
//! HttpOnly (no script reads it), SameSite=Lax (another site's forms and scripts do not send it),
//! Path=/, no Domain. Served over https (`server.public_url`), it is Secure and named with the
//! `__Host-` prefix, which browsers accept only from a secure origin for the whole host, so a
//! neighbouring subdomain cannot plant or shadow it. Over plain http (loopback, tests) a Secure cookie
//! would never come back, so it is neither.

use axum::http::{header, HeaderMap, HeaderValue};

use lore_core::accounts::secret::MAX_SECRET_CHARS;

/// What a session secret starts with.
pub const SESSION_PREFIX: &str = "lore_s_";

#[derive(Debug, Clone)]
pub struct SessionCookie {
    name: &'static str,
    /// What every secret it holds starts with.
    prefix: &'static str,
    secure: bool,
    max_age_secs: i64,
}

impl SessionCookie {
    pub fn new(public_url: Option<&str>, max_age_secs: i64) -> Self {
        let secure = is_secure(public_url);
        let name = if secure { "__Host-lore_session" } else { "lore_session" };
        Self { name, prefix: SESSION_PREFIX, secure, max_age_secs }
    }

    /// The cookie that ties an OpenID sign-in to its browser until the provider sends it back.
    pub fn sign_in_flow(public_url: Option<&str>, max_age_secs: i64) -> Self {
        let secure = is_secure(public_url);
        let name = if secure { "__Host-lore_sign_in" } else { "lore_sign_in" };
        Self { name, prefix: super::oidc::FLOW_PREFIX, secure, max_age_secs }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The `Set-Cookie` value that stores `secret`.
    pub fn set(&self, secret: &str) -> HeaderValue {
        self.header(secret, self.max_age_secs)
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }

    fn header(&self, value: &str, max_age_secs: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}", self.name);
        HeaderValue::from_str(&cookie).expect("the cookie holds only hex digits and fixed text")
    }

    /// The session secret the request carries, if it carries exactly one that looks like ours (a
    /// cookie sent twice, as a planted duplicate would be, counts as none).
    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        let mut found = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == self.name)
            .map(|(_, value)| value.trim());
        let value = found.next()?;
        if found.next().is_some() || value.len() > MAX_SECRET_CHARS || !value.starts_with(self.prefix) {
            return None;
        }
        Some(value.to_string())
    }
}

fn is_secure(public_url: Option<&str>) -> bool {
    public_url.is_some_and(|url| url.starts_with("https://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            headers.append(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        headers
    }

    #[test]
    fn over_https_the_cookie_is_secure_and_host_bound() {
        let cookie = SessionCookie::new(Some("https://lore.example.com"), 3600);
        let set = cookie.set("lore_s_ab12");
        assert_eq!(
            set.to_str().unwrap(),
            "__Host-lore_session=lore_s_ab12; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure"
        );
        let plain = SessionCookie::new(None, 60).set("lore_s_ab12");
        assert_eq!(plain.to_str().unwrap(), "lore_session=lore_s_ab12; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
    }

    #[test]
    fn only_one_well_formed_session_cookie_is_read() {
        let cookie = SessionCookie::new(None, 60);
        assert_eq!(cookie.read(&headers(&["a=1; lore_session=lore_s_ff; b=2"])).as_deref(), Some("lore_s_ff"));
        assert_eq!(cookie.read(&headers(&["lore_session=lore_s_ff", "lore_session=lore_s_00"])), None);
        assert_eq!(cookie.read(&headers(&["lore_session=somethingelse"])), None);
        assert_eq!(cookie.read(&headers(&[&format!("lore_session=lore_s_{}", "f".repeat(200))])), None);
        assert_eq!(cookie.read(&headers(&["other=lore_s_ff"])), None);
    }
}
