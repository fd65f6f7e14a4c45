//! Adapters over the AWS SDK. SDK types stay inside this crate.
