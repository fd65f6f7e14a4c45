//! The crash test's work list: which file each upload sends, what it must end as, and what
//! the moderators will decide; and the seeded generator behind every random choice.

use std::sync::Arc;

use vetted_core::ReasonCode;
use vetted_core::policy::SlotPolicies;
use vetted_samples::{Expect, catalogue, images};

/// What one upload must end as, given the decisions made on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Passes the gate and the sanitizer: `IN_REVIEW` until decided.
    Valid,
    /// Refused by the gate with this reason code.
    Rejected(String),
}

/// What the moderators do with a valid upload once it is in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Leave,
    Approve,
    Decline(&'static str),
    /// Two moderators at once: the first approves, the second declines; one must win.
    Race,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub index: usize,
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Arc<Vec<u8>>,
    pub verdict: Verdict,
    pub plan: Plan,
    /// "post" (a presigned form) or "put" (a presigned URL).
    pub method: &'static str,
    /// Which of the owners uploads it.
    pub owner: usize,
}

/// Refused files, each with the reason the gate gives (from the sample catalogue).
const REFUSED: &[&str] = &[
    "html_as_png",
    "jpeg_declared_png",
    "exe_as_jpg",
    "five_bytes_png_start",
    "png_side_16",
    "png_bad_crc",
    "zip_as_png",
];

const DECLINE_REASONS: [&str; 3] = ["low_quality", "not_relevant", "inappropriate"];

/// `count` jobs: about one in four refused by the gate, the rest real images (every twelfth a
/// large one, so that sanitizing takes long enough to be killed in the middle of); a third of
/// the valid ones approved, a third declined (some of those raced), a third left in review.
pub fn make(count: usize, owners: usize, rng: &mut Rng) -> Vec<Job> {
    let samples = catalogue();
    let refused: Vec<_> = REFUSED
        .iter()
        .map(|name| {
            let sample = samples
                .iter()
                .find(|s| s.name == *name)
                .unwrap_or_else(|| panic!("no sample {name}"));
            let Expect::Reject(reason) = sample.expect else {
                panic!("{name} is not refused by the gate");
            };
            (sample.clone(), reason.as_str().to_owned())
        })
        .collect();
    (0..count)
        .map(|index| {
            let method = if index % 6 == 5 { "put" } else { "post" };
            let owner = index % owners;
            if index % 4 == 3 {
                let (sample, reason) = &refused[rng.below(refused.len())];
                return Job {
                    index,
                    file_name: sample.file_name.clone(),
                    content_type: sample.declared_type,
                    bytes: Arc::new(sample.bytes.clone()),
                    verdict: Verdict::Rejected(reason.clone()),
                    plan: Plan::Leave,
                    method,
                    owner,
                };
            }
            let (file_name, content_type, (w, h)) = if index % 12 == 0 {
                (format!("big-{index}.jpg"), "image/jpeg", (1600, 1200))
            } else {
                let size = (64 + rng.below(200) as u32, 64 + rng.below(200) as u32);
                if index % 2 == 0 {
                    (format!("photo-{index}.jpg"), "image/jpeg", size)
                } else {
                    (format!("logo-{index}.png"), "image/png", size)
                }
            };
            let bytes = match content_type {
                "image/jpeg" => images::jpeg(w as u16, h as u16),
                _ => images::png(w, h),
            };
            // The uploads go to a gallery slot: a random size past its aspect range (1:4 to
            // 4:1, e.g. 263 × 64) is refused by the gate, and must end so.
            let gallery = SlotPolicies::default().gallery;
            if !gallery.aspect_allows(w, h) {
                return Job {
                    index,
                    file_name,
                    content_type,
                    bytes: Arc::new(bytes),
                    verdict: Verdict::Rejected(ReasonCode::WrongAspectRatio.as_str().to_owned()),
                    plan: Plan::Leave,
                    method,
                    owner,
                };
            }
            let plan = match index % 9 {
                0 | 4 => Plan::Approve,
                1 | 5 => Plan::Decline(DECLINE_REASONS[index % 3]),
                2 => Plan::Race,
                _ => Plan::Leave,
            };
            Job {
                index,
                file_name,
                content_type,
                bytes: Arc::new(bytes),
                verdict: Verdict::Valid,
                plan,
                method,
                owner,
            }
        })
        .collect()
}

/// splitmix64: small, seedable, and good enough to pick kill moments and sizes. The seed is
/// printed, so a failing run's choices can be replayed (`VETTED_CRASH_SEED`).
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_clock() -> (Rng, u64) {
        let seed = std::env::var("VETTED_CRASH_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970");
                now.as_nanos() as u64
            });
        (Rng(seed), seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
