//! The `vetted` command as a library: each subcommand's arguments and behaviour, and
//! [`serve::serve`], which starts the whole pipeline on a listener the caller owns and hands
//! back a [`serve::Running`] to stop it by. The binary (`main.rs`) parses the command line,
//! installs the log subscriber and dispatches; this library never installs one.

pub mod admin;
pub mod aws;
pub mod bench;
pub mod client;
pub mod inspect;
pub mod mail;
pub mod private_files;
pub mod sanitize;
pub mod serve;
pub mod token;
pub mod users;
pub mod webhooks;

/// What `vetted aws` and `serve --backend aws` answer in a build without the `aws` feature.
#[cfg(not(feature = "aws"))]
const AWS_NOT_BUILT: &str = "this vetted was built without the AWS backend (the `aws` feature); \
    rebuild it with `--features aws`, e.g. `cargo install --path app --features aws` or \
    `cargo run -p vetted --features aws -- ...`";
