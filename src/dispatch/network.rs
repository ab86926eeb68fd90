//! Which addresses the sink may dial: a guard against server-side request forgery.
//!
//! A webhook URL is typed in by users, so the sink could be pointed at a cloud metadata service
//! or at this machine's own services. The policy is applied to the address actually dialled,
//! after DNS resolution and on every new connection ([`super::http`] and [`super::pool`] ask it),
//! so a name that resolves to an allowed address once and to a refused one later is refused then.
//!
//! The rules, in order: an address in `deny` is refused; one in `allow` is allowed; the
//! link-local ranges (169.254.0.0/16, fe80::/10, which hold the cloud metadata services), AWS's
//! IPv6 metadata address fd00:ec2::254 and the unspecified addresses (0.0.0.0/8 and ::, which
//! reach this machine on Linux) are refused; private networks and loopback are allowed unless
//! `allow_private = false`; everything else is allowed. IPv4-mapped IPv6 addresses
//! (`::ffff:a.b.c.d`) are judged as the IPv4 address they carry.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// The network policy of one sink (`[sinks.ID.network]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Ranges always refused (checked first).
    pub deny: Vec<IpNet>,
    /// Ranges always allowed (checked second), e.g. one link-local service you trust.
    pub allow: Vec<IpNet>,
    /// Whether private networks and loopback may be dialled.
    pub allow_private: bool,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        NetworkPolicy {
            deny: Vec::new(),
            allow: Vec::new(),
            allow_private: true,
        }
    }
}

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("address {address} refused by the network policy: {rule}")]
pub struct Refused {
    /// The address that would have been dialled.
    pub address: IpAddr,
    /// The rule that refused it.
    pub rule: Rule,
}

/// The rule that refused an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A range of `network.deny`.
    Denied(IpNet),
    /// Link-local (where cloud metadata services answer).
    LinkLocal,
    /// A cloud metadata address outside the link-local ranges.
    Metadata,
    /// The unspecified address, which reaches this machine.
    Unspecified,
    /// A private network or loopback while `allow_private = false`.
    Private,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Denied(net) => write!(f, "in network.deny ({net})"),
            Rule::LinkLocal => f.write_str("link-local addresses (cloud metadata services) are refused by default; add it to network.allow to dial it"),
            Rule::Metadata => f.write_str("a cloud metadata address is refused by default; add it to network.allow to dial it"),
            Rule::Unspecified => f.write_str("the unspecified address reaches this machine and is refused"),
            Rule::Private => f.write_str("private and loopback addresses are refused (network.allow_private = false)"),
        }
    }
}

/// fd00:ec2::254, AWS's IPv6 instance metadata service.
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

impl NetworkPolicy {
    /// Whether `address` may be dialled, and if not, by which rule.
    pub fn check(&self, address: IpAddr) -> Result<(), Refused> {
        let ip = canonical(address);
        let refuse = |rule| Refused { address, rule };
        if let Some(net) = self.deny.iter().find(|net| contains(net, ip)) {
            return Err(refuse(Rule::Denied(*net)));
        }
        if self.allow.iter().any(|net| contains(net, ip)) {
            return Ok(());
        }
        if let Some(rule) = built_in_refusal(ip) {
            return Err(refuse(rule));
        }
        if !self.allow_private && is_private(ip) {
            return Err(refuse(Rule::Private));
        }
        Ok(())
    }

    /// The first of `addresses` that may be dialled, in order, or the refusal of the first one
    /// when none may (a name that resolves to nothing dialable).
    pub fn first_allowed(
        &self,
        addresses: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Option<SocketAddr>, Refused> {
        let mut first_refusal = None;
        for address in addresses {
            match self.check(address.ip()) {
                Ok(()) => return Ok(Some(address)),
                Err(refused) => {
                    first_refusal.get_or_insert(refused);
                }
            }
        }
        match first_refusal {
            Some(refused) => Err(refused),
            None => Ok(None),
        }
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; everything else as is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether `net` holds `ip`, judging a mapped net's addresses like `ip` (both canonical).
fn contains(net: &IpNet, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpNet::V6(v6), IpAddr::V4(v4)) => v6.contains(&v4.to_ipv6_mapped()),
        _ => net.contains(&ip),
    }
}

fn built_in_refusal(ip: IpAddr) -> Option<Rule> {
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_link_local() {
                Some(Rule::LinkLocal)
            } else if v4.octets()[0] == 0 {
                Some(Rule::Unspecified)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                Some(Rule::Unspecified)
            } else if v6 == AWS_METADATA_V6 {
                Some(Rule::Metadata)
            } else if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                Some(Rule::LinkLocal)
            } else {
                None
            }
        }
    }
}

/// Private networks, shared address space and loopback.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || is_shared(v4),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// 100.64.0.0/10, carrier-grade NAT space.
fn is_shared(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 100 && (b & 0xc0) == 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn rule(policy: &NetworkPolicy, text: &str) -> Option<Rule> {
        policy.check(ip(text)).err().map(|refused| refused.rule)
    }

    #[test]
    fn by_default_metadata_link_local_and_unspecified_are_refused_and_the_rest_allowed() {
        let policy = NetworkPolicy::default();
        for (address, expected) in [
            ("169.254.169.254", Some(Rule::LinkLocal)),
            ("169.254.0.1", Some(Rule::LinkLocal)),
            ("fe80::1", Some(Rule::LinkLocal)),
            ("febf::1", Some(Rule::LinkLocal)),
            ("fd00:ec2::254", Some(Rule::Metadata)),
            ("0.0.0.0", Some(Rule::Unspecified)),
            ("0.1.2.3", Some(Rule::Unspecified)),
            ("::", Some(Rule::Unspecified)),
            ("::ffff:169.254.169.254", Some(Rule::LinkLocal)),
            ("::ffff:0.0.0.0", Some(Rule::Unspecified)),
            ("127.0.0.1", None),
            ("::1", None),
            ("10.1.2.3", None),
            ("192.168.1.1", None),
            ("fd12::1", None),
            ("fec0::1", None),
            ("8.8.8.8", None),
            ("2001:db8::1", None),
        ] {
            assert_eq!(rule(&policy, address), expected, "{address}");
        }
    }

    #[test]
    fn allow_private_false_refuses_private_ranges_and_loopback_in_every_form() {
        let policy = NetworkPolicy {
            allow_private: false,
            ..NetworkPolicy::default()
        };
        for address in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "::ffff:127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "fc00::1",
            "fd12:3456::1",
        ] {
            assert_eq!(rule(&policy, address), Some(Rule::Private), "{address}");
        }
        for address in ["172.32.0.1", "100.128.0.1", "8.8.8.8", "2001:db8::1"] {
            assert_eq!(rule(&policy, address), None, "{address}");
        }
    }

    #[test]
    fn deny_comes_first_then_allow_then_the_built_in_rules() {
        let policy = NetworkPolicy {
            deny: vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()],
            allow: vec![
                "169.254.10.0/24".parse().unwrap(),
                "127.0.0.0/8".parse().unwrap(),
            ],
            allow_private: true,
        };
        assert_eq!(
            rule(&policy, "127.0.0.1"),
            Some(Rule::Denied("127.0.0.1/32".parse().unwrap()))
        );
        // Mapped forms are judged as the IPv4 address they carry.
        assert_eq!(
            rule(&policy, "::ffff:127.0.0.1"),
            Some(Rule::Denied("127.0.0.1/32".parse().unwrap()))
        );
        assert_eq!(
            rule(&policy, "::1"),
            Some(Rule::Denied("::1/128".parse().unwrap()))
        );
        assert_eq!(rule(&policy, "127.0.0.2"), None);
        assert_eq!(rule(&policy, "169.254.10.7"), None, "allowed explicitly");
        assert_eq!(rule(&policy, "169.254.11.7"), Some(Rule::LinkLocal));
        // A deny range written in the mapped form covers the IPv4 address too.
        let mapped = NetworkPolicy {
            deny: vec!["::ffff:10.0.0.0/104".parse().unwrap()],
            ..NetworkPolicy::default()
        };
        assert!(rule(&mapped, "10.9.9.9").is_some());
    }

    #[test]
    fn the_first_allowed_address_of_a_name_is_dialled_or_the_first_refusal_reported() {
        let policy = NetworkPolicy {
            deny: vec!["127.0.0.1/32".parse().unwrap()],
            ..NetworkPolicy::default()
        };
        let addr = |text: &str| -> SocketAddr { text.parse().unwrap() };
        assert_eq!(
            policy.first_allowed([addr("127.0.0.1:80"), addr("127.0.0.2:80")]),
            Ok(Some(addr("127.0.0.2:80")))
        );
        let refused = policy
            .first_allowed([addr("127.0.0.1:80"), addr("169.254.169.254:80")])
            .unwrap_err();
        assert_eq!(refused.address, ip("127.0.0.1"));
        assert!(refused.to_string().contains("127.0.0.1"));
        assert_eq!(policy.first_allowed([]), Ok(None));
    }
}
