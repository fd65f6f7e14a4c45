//! Every sample with the verdict the gate must reach under the default policy, so that tests,
//! benchmarks and the fuzzing corpus iterate one list.

mod accepted;
mod broken;
mod refused;

use vetted_core::{ImageType, ReasonCode};

/// One file and what the gate must say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Unique, stable, snake_case: tests and reports name cases by it.
    pub name: &'static str,
    /// The name an uploader would give it; the extension is part of the attack.
    pub file_name: String,
    /// The MIME type the uploader declares.
    pub declared_type: &'static str,
    pub bytes: Vec<u8>,
    /// The gate's verdict under `Policy::default()`.
    pub expect: Expect,
    /// A full decoder reads it: false for header-only and damaged files.
    pub decodable: bool,
    /// What the case proves, in a few words.
    pub what: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Accept {
        image_type: ImageType,
        width: u32,
        height: u32,
    },
    Reject(ReasonCode),
}

impl Sample {
    pub fn is_accepted(&self) -> bool {
        matches!(self.expect, Expect::Accept { .. })
    }
}

const PNG: &str = "image/png";
const JPEG: &str = "image/jpeg";
const WEBP: &str = "image/webp";

fn accept(image_type: ImageType, width: u32, height: u32) -> Expect {
    Expect::Accept {
        image_type,
        width,
        height,
    }
}

/// Every case, good ones first. About 50 files, almost all a few KiB; one is 20 MiB + 1 byte of
/// mostly zeros (allocated lazily by the OS, never read by the gate).
pub fn catalogue() -> Vec<Sample> {
    let mut all = accepted::samples();
    all.extend(refused::samples());
    all.extend(broken::samples());
    all
}

/// Looks a sample up by name; panics on a name the catalogue does not have.
pub fn sample(name: &str) -> Sample {
    catalogue()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sample named {name:?}"))
}

/// A [`Sample`]'s fields by position: name, file name, declared type, bytes, verdict,
/// decodable, what.
struct Case(
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    Expect,
    bool,
    &'static str,
);

fn build(cases: Vec<Case>) -> Vec<Sample> {
    cases
        .into_iter()
        .map(
            |Case(name, file_name, declared_type, bytes, expect, decodable, what)| Sample {
                name,
                file_name: file_name.to_owned(),
                declared_type,
                bytes,
                expect,
                decodable,
                what,
            },
        )
        .collect()
}
