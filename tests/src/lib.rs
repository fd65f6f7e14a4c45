//! Shared support for the end-to-end tests.
//!
//! Whether a test that needs the AWS emulator runs, is skipped or fails is decided in one
//! place for every test crate: [`vetted_contract::emulator`], re-exported here.

pub use vetted_contract::emulator::{
    ENDPOINT_VARIABLE, REQUIRE_VARIABLE, aws_endpoint, aws_endpoint_required,
};
