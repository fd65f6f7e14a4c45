//! The Vetted domain, free of SDKs and I/O.
//!
//! Everything that decides something lives here: which uploads exist and how their status may
//! move ([`record`], [`status`]), what a file must be to pass ([`policy`], [`inspect`]), and the
//! ports through which the outside world is reached ([`ports`]). Adapters in `vetted-aws` and
//! `vetted-embedded` implement the ports; handlers call into this crate and map the result.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod banned;
pub mod checksum;
pub mod error_chain;
pub mod events;
pub mod ids;
pub mod image_type;
pub mod inspect;
pub mod intake;
pub mod lifecycle;
pub mod maintenance;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod policy;
pub mod ports;
pub mod presign;
pub mod reason;
pub mod record;
pub mod restaurant;
pub mod review;
pub mod service;
pub mod settings;
pub mod status;
pub mod time;
pub mod webhooks;

pub use checksum::ContentSha256;
pub use ids::{CorrelationId, ExecutionName, ModeratorId, ObjectKey, OwnerId, TaskToken, UploadId};
pub use image_type::ImageType;
pub use policy::Policy;
pub use reason::ReasonCode;
pub use record::{Decision, RecordChanges, Transition, UploadRecord};
pub use restaurant::{RestaurantId, Slot, SlotKind, SlotRef};
pub use service::{Ports, QueueService, StepError};
pub use status::Status;
pub use time::{Clock, SystemClock, Timestamp};
