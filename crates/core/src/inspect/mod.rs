//! The inspection gate: magic bytes and header dimensions, judged against the policy, from a
//! prefix of the file. Pure: it never reads, never decodes pixels, never panics.
//!
//! [`inspect`] judges the bytes it is given; [`run_gate`] is the reading strategy the intake
//! worker and `vetted inspect` share (one read of `gate_first_read_bytes`, at most one more up
//! to `gate_max_bytes`).
//!
//! Checks, in order, each with its reason code: size (`empty`, `too_small`, `too_large`), magic
//! bytes (`type_not_allowed`, or `truncated` for a file that ends inside a signature), the
//! declared type (`type_mismatch`), the header (`corrupt`, `truncated`, `header_too_deep`), the
//! dimensions (`too_large_dimensions`, `too_small_dimensions`).
//!
//! Why our own header walk and not `imagesize`: the gate must say exactly how many more bytes
//! it needs ([`Verdict::NeedMore`]), and tell a file cut short (`truncated`) from a malformed
//! one (`corrupt`). `imagesize` reports a file cut short as an I/O error, as it does some
//! malformed ones, and never says how far it got. It also reads JPEG fill bytes and
//! standalone markers as segments with a length, does not reject a scan before the frame
//! header, reads the PNG size without checking that the first chunk is an IHDR, and keeps the
//! upscaling bits in a lossy WebP's size. The walks here are under 200 lines; `imagesize` stays
//! as a dev-dependency that cross-checks them on generated images.

mod gate;
mod jpeg;
mod png;
mod sniff;
mod webp;

pub use gate::{GateOutcome, run_gate};
pub use sniff::{SNIFF_LEN, Sniffed, sniff};

use serde::{Deserialize, Serialize};

use crate::image_type::ImageType;
use crate::policy::Policy;
use crate::reason::ReasonCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// An allowed image whose header is sound and whose size the policy allows.
    Accept {
        image_type: ImageType,
        width: u32,
        height: u32,
    },
    /// Refused, for a stable reason.
    Reject { reason: ReasonCode },
    /// The header continues beyond the prefix: call again with at least the first `bytes`
    /// bytes. Never more than the object's size nor `gate_max_bytes`; beyond those the verdict
    /// is `truncated` or `header_too_deep`.
    NeedMore { bytes: u64 },
}

impl Verdict {
    fn reject(reason: ReasonCode) -> Self {
        Verdict::Reject { reason }
    }

    pub fn reason(&self) -> Option<ReasonCode> {
        match self {
            Verdict::Reject { reason } => Some(*reason),
            _ => None,
        }
    }

    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept { .. })
    }
}

/// Judges an object from its first bytes.
///
/// `prefix` is the first bytes of the object (possibly all of it), `total_len` its real size,
/// `declared_type` the MIME type the uploader declared. Bytes beyond `total_len` or beyond
/// `policy.gate_max_bytes` are ignored, so the verdict on a whole file is the verdict
/// [`run_gate`] reaches by reading it.
pub fn inspect(prefix: &[u8], total_len: u64, declared_type: &str, policy: &Policy) -> Verdict {
    if let Some(reason) = size_reason(total_len, policy) {
        return Verdict::reject(reason);
    }
    let visible = total_len.min(policy.gate_max_bytes);
    let prefix = &prefix[..prefix
        .len()
        .min(usize::try_from(visible).unwrap_or(usize::MAX))];
    let whole_file = prefix.len() as u64 == total_len;
    if prefix.len() < SNIFF_LEN && !whole_file {
        return need((SNIFF_LEN as u64).min(total_len), total_len, policy);
    }

    let (image_type, signature_intact) = match sniff(prefix) {
        Sniffed::Image(t) => (t, true),
        Sniffed::DamagedSignature(t) => (t, false),
        // Only a whole file shorter than a signature gets here.
        Sniffed::PartialSignature(_) => return Verdict::reject(ReasonCode::Truncated),
        Sniffed::Other { .. } => return Verdict::reject(ReasonCode::TypeNotAllowed),
    };
    if !policy.allows(image_type) {
        return Verdict::reject(ReasonCode::TypeNotAllowed);
    }
    if policy.require_type_match && ImageType::from_mime(declared_type) != Ok(image_type) {
        return Verdict::reject(ReasonCode::TypeMismatch);
    }
    if !signature_intact {
        return Verdict::reject(ReasonCode::Corrupt);
    }

    let header = match image_type {
        ImageType::Png => png::dimensions(prefix),
        ImageType::Jpeg => jpeg::dimensions(prefix),
        ImageType::Webp => webp::dimensions(prefix),
    };
    match header {
        Ok(Dimensions { width, height }) => judge_dimensions(image_type, width, height, policy),
        Err(Stop::Corrupt) => Verdict::reject(ReasonCode::Corrupt),
        Err(Stop::Need(bytes)) => need(bytes, total_len, policy),
    }
}

/// The checks that need no bytes at all: [`run_gate`] makes them before reading anything.
pub(crate) fn size_reason(total_len: u64, policy: &Policy) -> Option<ReasonCode> {
    if total_len == 0 {
        Some(ReasonCode::Empty)
    } else if total_len < policy.min_bytes {
        Some(ReasonCode::TooSmall)
    } else if total_len > policy.max_bytes {
        Some(ReasonCode::TooLarge)
    } else {
        None
    }
}

/// More bytes are needed: as long as the object has them and the gate may read them.
fn need(bytes: u64, total_len: u64, policy: &Policy) -> Verdict {
    if bytes > total_len {
        Verdict::reject(ReasonCode::Truncated)
    } else if bytes > policy.gate_max_bytes {
        Verdict::reject(ReasonCode::HeaderTooDeep)
    } else {
        Verdict::NeedMore { bytes }
    }
}

fn judge_dimensions(image_type: ImageType, width: u32, height: u32, policy: &Policy) -> Verdict {
    let pixels = u64::from(width) * u64::from(height);
    if width > policy.max_side || height > policy.max_side || pixels > policy.max_pixels {
        Verdict::reject(ReasonCode::TooLargeDimensions)
    } else if width < policy.min_side || height < policy.min_side {
        Verdict::reject(ReasonCode::TooSmallDimensions)
    } else if !policy.aspect_allows(width, height) {
        Verdict::reject(ReasonCode::WrongAspectRatio)
    } else {
        Verdict::Accept {
            image_type,
            width,
            height,
        }
    }
}

/// What a header walk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dimensions {
    width: u32,
    height: u32,
}

/// Why a header walk stopped without dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Corrupt,
    /// The walk can go on once the prefix holds this many bytes.
    Need(u64),
}

type Header = Result<Dimensions, Stop>;

/// `len` bytes at `offset`, or how long the prefix must be to hold them.
fn take(buf: &[u8], offset: usize, len: usize) -> Result<&[u8], Stop> {
    let end = offset.saturating_add(len);
    buf.get(offset..end).ok_or(Stop::Need(end as u64))
}

#[cfg(test)]
mod tests;
