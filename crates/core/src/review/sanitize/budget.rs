//! One memory budget for every sanitize of a process.
//!
//! Each sanitize is capped on its own (`image::Limits` and the decode allocation ceiling), but
//! a worker runs several at once, and four 40 MP images each within their cap can still add up
//! to more than the machine has. So before a sanitize reads its object, it reserves what it
//! will need, estimated from what intake recorded (the file's size and the header's sides),
//! and waits while the budget is spent. A reservation larger than the whole budget waits for
//! all of it and then runs alone, rather than never.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::image_type::ImageType;

/// The budget `vetted serve` and the review Lambda use unless told otherwise.
pub const DEFAULT_MEMORY_BUDGET: u64 = 1024 * MIB;

const MIB: u64 = 1024 * 1024;

/// Memory shared by the sanitize jobs of one process, counted in whole MiB.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    total_mib: u32,
}

/// Memory held for one sanitize; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permits: OwnedSemaphorePermit,
    pub mib: u32,
}

impl MemoryBudget {
    /// A budget of `bytes` (at least 1 MiB).
    pub fn new(bytes: u64) -> Self {
        let total_mib = u32::try_from(bytes.div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .max(1);
        Self {
            permits: Arc::new(Semaphore::new(total_mib as usize)),
            total_mib,
        }
    }

    pub fn total_bytes(&self) -> u64 {
        u64::from(self.total_mib) * MIB
    }

    /// Waits until `bytes` of the budget are free and holds them (all of it, for more).
    pub async fn reserve(&self, bytes: u64) -> Reservation {
        let mib = u32::try_from(bytes.div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_mib);
        let permits = Arc::clone(&self.permits)
            .acquire_many_owned(mib)
            .await
            .unwrap_or_else(|_| unreachable!("the budget's semaphore is never closed"));
        Reservation {
            _permits: permits,
            mib,
        }
    }

    /// MiB not reserved right now.
    pub fn available_mib(&self) -> usize {
        self.permits.available_permits()
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_BUDGET)
    }
}

/// What sanitizing a `file_bytes` file of `width`×`height` holds at its peak, at most: the file,
/// the decoded image at the widest sample layout its type decodes to (16-bit RGBA for a PNG,
/// 8-bit RGBA for the others), and one 8-bit RGBA copy for the encoder. The preview and the
/// encoded output are small beside these. Without sides (a record from before intake recorded
/// them), the decode ceiling stands in for the image.
pub fn sanitize_estimate(
    file_bytes: u64,
    sides: Option<(u32, u32)>,
    image_type: ImageType,
    max_decode_alloc: u64,
) -> u64 {
    let decoded_per_pixel: u64 = match image_type {
        ImageType::Png => 8,
        ImageType::Jpeg | ImageType::Webp => 4,
    };
    let image = match sides {
        Some((width, height)) => {
            let pixels = u64::from(width) * u64::from(height);
            pixels.saturating_mul(decoded_per_pixel + 4)
        }
        None => max_decode_alloc,
    };
    file_bytes.saturating_add(image.min(max_decode_alloc.saturating_mul(2)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_each_other_and_an_oversized_one_runs_alone() {
        let budget = MemoryBudget::new(100 * MIB);
        let first = budget.reserve(60 * MIB).await;
        assert_eq!(budget.available_mib(), 40);
        // 50 MiB do not fit beside 60: the second waits until the first is given back.
        let waiting = tokio::time::timeout(Duration::from_millis(50), budget.reserve(50 * MIB));
        assert!(
            waiting.await.is_err(),
            "a reservation past the budget did not wait"
        );
        drop(first);
        let second = budget.reserve(50 * MIB).await;
        assert_eq!(second.mib, 50);
        drop(second);
        let huge = budget.reserve(10_000 * MIB).await;
        assert_eq!(huge.mib, 100, "more than the budget holds all of it");
        assert_eq!(budget.available_mib(), 0);
        drop(huge);
        assert_eq!(budget.available_mib(), 100);
        assert_eq!(
            budget.reserve(1).await.mib,
            1,
            "a byte rounds up to one MiB"
        );
    }

    #[test]
    fn the_estimate_grows_with_the_pixels_and_the_png_layout() {
        let cap = 384 * MIB;
        let jpeg = sanitize_estimate(2 * MIB, Some((4000, 3000)), ImageType::Jpeg, cap);
        assert_eq!(jpeg, 2 * MIB + 12_000_000 * 8);
        let png = sanitize_estimate(2 * MIB, Some((4000, 3000)), ImageType::Png, cap);
        assert_eq!(png, 2 * MIB + 12_000_000 * 12);
        assert_eq!(
            sanitize_estimate(100, None, ImageType::Webp, cap),
            100 + cap,
            "without sides the decode ceiling stands in"
        );
    }
}
