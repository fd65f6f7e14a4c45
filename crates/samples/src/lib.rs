//! Generated image files, good and bad, for tests, benchmarks and the demo.
//!
//! Everything is made in memory on demand, so the repository holds no binaries. [`catalogue`]
//! lists every case with the gate's expected verdict; the modules export single generators for
//! other tests (a JPEG with GPS, a PNG with HTML after IEND, an SVG with a script, ...).
//!
//! Most files are real: encoded by `png`, `jpeg-encoder` or `image`, and decodable. Some are
//! deliberately not, and say so (`Sample::decodable`): header-only files (a PNG with an IHDR
//! and no image data, for sizes too big to encode; a lossy WebP, which no pure-Rust crate
//! encodes), and real files whose header was rewritten to lie or cut short.

mod catalogue;
pub mod exif;
pub mod hostile;
pub mod images;
pub mod photo;
pub mod raw;

pub use catalogue::{Expect, Sample, catalogue, sample};
