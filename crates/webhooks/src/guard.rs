//! The address guard at delivery time: a DNS resolver for the delivery client that answers
//! only addresses deliveries may reach, so the client connects only to a vetted address.
//!
//! The URL was checked when it was stored, but a name can resolve anywhere later (DNS
//! rebinding), so every address is checked again here, after resolution and before any
//! connection. Literal IP hosts never reach a resolver; the worker checks those with
//! [`check_url`](vetted_core::webhooks::address::check_url) before each attempt.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use vetted_core::webhooks::address::forbidden_kind;

/// Resolves with the system resolver and drops every inside address.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = vetted(&host, found)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `found` that deliveries may reach; an error if there are none.
pub fn vetted(
    host: &str,
    found: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let mut refused = Vec::new();
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|addr| match forbidden_kind(addr.ip()) {
            Some(kind) => {
                refused.push(format!("{} ({kind})", addr.ip()));
                false
            }
            None => true,
        })
        .collect();
    if allowed.is_empty() {
        return Err(format!(
            "{host} resolves to no address deliveries may reach (refused: {})",
            if refused.is_empty() {
                "none found".to_owned()
            } else {
                refused.join(", ")
            }
        )
        .into());
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_after_resolution() {
        // `localhost` resolves from the hosts file, without the network.
        let name: Name = "localhost".parse().unwrap();
        let error = match GuardedResolver.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("loopback"), "{error}");
    }

    #[test]
    fn only_outside_addresses_are_kept() {
        let found = vec![
            "127.0.0.1:0".parse().unwrap(),
            "93.184.216.34:0".parse().unwrap(),
            "[fd00:ec2::254]:0".parse().unwrap(),
        ];
        let kept = vetted("mixed.example", found).unwrap();
        assert_eq!(kept, vec!["93.184.216.34:0".parse::<SocketAddr>().unwrap()]);
        assert!(vetted("inside.example", vec!["10.0.0.1:0".parse().unwrap()]).is_err());
    }
}
