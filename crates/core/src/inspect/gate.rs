//! The gate's reading strategy, shared by the intake worker and `vetted inspect`: what to read,
//! and when to stop reading.

use std::future::Future;

use bytes::Bytes;
use serde::Serialize;

use super::{Verdict, inspect, size_reason};
use crate::policy::Policy;
use crate::reason::ReasonCode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateOutcome {
    /// Never [`Verdict::NeedMore`]. Flattened in JSON: `{"verdict":"accept",...,"bytes_read":N}`.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// How far into the object the gate read: the length of the longest prefix it fetched
    /// (0 when the size alone decided). With the default policy there is only ever one read.
    pub bytes_read: u64,
}

/// Runs the gate over an object of `total_len` bytes, fetching prefixes with `read_prefix(n)`,
/// which must return the object's first `n` bytes.
///
/// Reads `min(total_len, gate_first_read_bytes)`; if the header goes on beyond that, reads once
/// more, `min(total_len, gate_max_bytes)`. A header that is still not complete is
/// `header_too_deep`. Size checks that need no bytes (`empty`, `too_small`, `too_large`) read
/// nothing. A read that returns fewer bytes than asked means the object is shorter than
/// `total_len` said: if the header needed those bytes, the verdict is `truncated`.
pub async fn run_gate<F, Fut, E>(
    total_len: u64,
    declared_type: &str,
    policy: &Policy,
    mut read_prefix: F,
) -> Result<GateOutcome, E>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Bytes, E>>,
{
    if let Some(reason) = size_reason(total_len, policy) {
        return Ok(GateOutcome {
            verdict: Verdict::Reject { reason },
            bytes_read: 0,
        });
    }
    let cap = total_len.min(policy.gate_max_bytes);
    let mut want = total_len.min(policy.gate_first_read_bytes);
    let mut bytes_read = 0;
    loop {
        let prefix = read_prefix(want).await?;
        let prefix = &prefix[..prefix
            .len()
            .min(usize::try_from(want).unwrap_or(usize::MAX))];
        bytes_read = bytes_read.max(prefix.len() as u64);
        let needed = match inspect(prefix, total_len, declared_type, policy) {
            Verdict::NeedMore { bytes } => bytes,
            verdict => {
                return Ok(GateOutcome {
                    verdict,
                    bytes_read,
                });
            }
        };
        let reason = if (prefix.len() as u64) < want {
            Some(ReasonCode::Truncated)
        } else if want >= cap || needed > cap {
            Some(ReasonCode::HeaderTooDeep)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Ok(GateOutcome {
                verdict: Verdict::Reject { reason },
                bytes_read,
            });
        }
        want = cap;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::image_type::ImageType;

    #[test]
    fn an_outcome_is_one_flat_json_object() {
        let accepted = GateOutcome {
            verdict: Verdict::Accept {
                image_type: ImageType::Png,
                width: 640,
                height: 480,
            },
            bytes_read: 33,
        };
        assert_eq!(
            serde_json::to_value(&accepted).unwrap(),
            json!({"verdict": "accept", "image_type": "image/png", "width": 640, "height": 480, "bytes_read": 33})
        );
        let rejected = GateOutcome {
            verdict: Verdict::Reject {
                reason: ReasonCode::TypeMismatch,
            },
            bytes_read: 12,
        };
        assert_eq!(
            serde_json::to_value(&rejected).unwrap(),
            json!({"verdict": "reject", "reason": "type_mismatch", "bytes_read": 12})
        );
    }
}
