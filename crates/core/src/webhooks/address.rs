//! The server-side request forgery guard: which URLs an endpoint may have, and which
//! addresses a delivery may connect to.
//!
//! A webhook URL is typed by an admin but fetched by the server, from inside its network. So
//! it must be `https`, carry no credentials, and name no address that reaches inside:
//! loopback, private (RFC 1918, IPv6 ULA), link-local, unspecified, CGNAT (100.64/10) or a
//! cloud metadata address. The URL is checked when it is stored and, because a name can
//! resolve to anything later, every address a name resolves to is checked again at delivery
//! time, and only a checked address is connected to. `allow_private` (a development setting)
//! lifts all of this, and admits `http`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;
use url::{Host, Url};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("the webhook URL is not a valid absolute URL: {0}")]
    Invalid(String),
    #[error("the webhook URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the webhook URL must use https")]
    NotHttps,
    #[error("the webhook URL must not contain a user name or password")]
    Credentials,
    #[error("the webhook URL names {0}, which deliveries may not reach")]
    Forbidden(String),
}

impl UrlError {
    /// Whether the URL was well formed but points somewhere forbidden.
    pub fn is_forbidden_address(&self) -> bool {
        matches!(self, UrlError::Forbidden(_))
    }
}

/// Parses and checks an endpoint's URL; answers it normalised.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    let url = Url::parse(raw).map_err(|e| UrlError::Invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(UrlError::NotHttps),
        other => return Err(UrlError::Invalid(format!("scheme {other:?}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = url
        .host()
        .ok_or_else(|| UrlError::Invalid("no host".to_owned()))?;
    if !allow_private {
        match host {
            Host::Ipv4(ip) => check_ip(IpAddr::V4(ip))?,
            Host::Ipv6(ip) => check_ip(IpAddr::V6(ip))?,
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") {
                    return Err(UrlError::Forbidden(format!("the host {name}")));
                }
            }
        }
    }
    Ok(url)
}

/// `Err` with what the address is, if deliveries may not connect to it.
pub fn check_ip(ip: IpAddr) -> Result<(), UrlError> {
    match forbidden_kind(ip) {
        Some(kind) => Err(UrlError::Forbidden(format!("{ip} ({kind})"))),
        None => Ok(()),
    }
}

/// What kind of inside address `ip` is, or `None` for a public one.
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            // An IPv4 address written as IPv6 reaches the IPv4 host.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_kind(v4);
            }
            v6_kind(v6)
        }
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("cloud metadata")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("cloud metadata")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique local (private)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("broadcast, multicast or reserved")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_refused_whatever_their_spelling() {
        for url in [
            "https://127.0.0.1/hook",
            "https://127.1.2.3:8443/hook",
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://169.254.1.1/",
            "https://100.64.0.1/",
            "https://100.127.255.255/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::]/",
            "https://[fd00:ec2::254]/",
            "https://[fc00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.1.1.1]/",
            "https://localhost/",
            "https://api.localhost./",
            // Decimal and short forms that URL parsers normalise to loopback.
            "https://2130706433/",
            "https://127.1/",
        ] {
            let error = check_url(url, false).expect_err(url);
            assert!(error.is_forbidden_address(), "{url}: {error}");
            assert!(check_url(url, true).is_ok(), "{url} allowed in development");
        }
    }

    #[test]
    fn public_https_urls_pass_and_others_are_refused_with_a_reason() {
        for url in [
            "https://example.com/hook",
            "https://8.8.8.8/x?y=1",
            "https://100.128.0.1/",
            "https://[2001:4860:4860::8888]/",
        ] {
            check_url(url, false).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        assert_eq!(
            check_url("http://example.com/", false),
            Err(UrlError::NotHttps)
        );
        assert!(check_url("http://example.com/", true).is_ok());
        assert_eq!(
            check_url("https://user:pw@example.com/", false),
            Err(UrlError::Credentials)
        );
        assert!(matches!(
            check_url("ftp://example.com/", true),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(
            check_url("not a url", false),
            Err(UrlError::Invalid(_))
        ));
        assert!(matches!(
            check_url("file:///etc/passwd", true),
            Err(UrlError::Invalid(_))
        ));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check_url(&long, false), Err(UrlError::TooLong));
    }
}
