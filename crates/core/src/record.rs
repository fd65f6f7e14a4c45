//! The upload record: one per upload, from intent to outcome, and the transitions that move it.
//!
//! A [`Transition`] names the status it expects, the status it moves to and the fields it sets.
//! [`UploadRecord::apply`] is the reference semantics every `Uploads` adapter must match: the
//! embedded adapter calls it inside a transaction, the DynamoDB adapter mirrors it as a
//! conditional update, and the contract suite checks both against it.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checksum::ContentSha256;
use crate::ids::{
    CorrelationId, ExecutionName, ModeratorId, ObjectKey, OwnerId, TaskToken, UploadId,
};
use crate::image_type::ImageType;
use crate::ports::MultipartUploadId;
use crate::reason::ReasonCode;
use crate::restaurant::SlotRef;
use crate::status::{IllegalMove, Status};
use crate::time::Timestamp;

/// The client's name for the file. Metadata only: it never becomes part of a key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileNameError {
    #[error("the filename is empty")]
    Empty,
    #[error("the filename is longer than {max} bytes", max = FileName::MAX_BYTES)]
    TooLong,
    #[error("the filename contains a path separator or '..'")]
    PathLike,
    #[error(
        "the filename contains an invisible, format or control character (a control code, \
         a direction override, a zero-width or tag character, a byte order mark, or a line \
         or paragraph separator)"
    )]
    ControlCharacter,
}

impl FileName {
    pub const MAX_BYTES: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, FileNameError> {
        if raw.trim().is_empty() {
            return Err(FileNameError::Empty);
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(FileNameError::TooLong);
        }
        if raw.contains(['/', '\\']) || raw.contains("..") {
            return Err(FileNameError::PathLike);
        }
        if raw.chars().any(is_invisible_or_format) {
            return Err(FileNameError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A filename read back from a store. It was checked when the intent was made, perhaps
    /// under an earlier, looser rule (before format characters were refused), so only what
    /// every version refused is refused here: a record is never made unreadable by a newer
    /// rule.
    pub fn from_stored(raw: &str) -> Result<Self, FileNameError> {
        match Self::parse(raw) {
            Err(FileNameError::ControlCharacter) if !raw.chars().any(char::is_control) => {
                Ok(Self(raw.to_owned()))
            }
            checked => checked,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What follows the last dot, as written (the caller folds case); `None` when there is no
    /// dot, the name ends in one, or its only dot starts it (`.png` is a hidden file named
    /// "png", as `Path::extension` and the owner page read it).
    pub fn extension(&self) -> Option<&str> {
        match self.0.rsplit_once('.') {
            Some((stem, extension)) if !stem.is_empty() && !extension.is_empty() => Some(extension),
            _ => None,
        }
    }
}

/// Characters a filename may not hold because they are invisible or change how the rest is
/// shown: controls (Cc); format characters (Cf), which include the bidi overrides that make
/// "gpj.exe" display as "exe.jpg", zero-width characters, tag characters and the byte order
/// mark; and the line and paragraph separators (Zl, Zp), which break a log line.
fn is_invisible_or_format(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as Category, get_general_category};
    matches!(
        get_general_category(c),
        Category::Control
            | Category::Format
            | Category::LineSeparator
            | Category::ParagraphSeparator
    )
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileName({:?})", self.0)
    }
}

impl TryFrom<String> for FileName {
    type Error = FileNameError;
    fn try_from(raw: String) -> Result<Self, FileNameError> {
        Self::parse(&raw)
    }
}

impl From<FileName> for String {
    fn from(name: FileName) -> String {
        name.0
    }
}

/// How the browser sends the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UploadMethod {
    /// A presigned POST form; the default.
    #[default]
    Post,
    /// A presigned PUT URL.
    Put,
    /// Through the API, for clients that cannot upload directly.
    Proxy,
    /// Resumable: the client sends parts through presigned `UploadPart` URLs, and the API
    /// completes the upload.
    Multipart,
}

/// A moderator's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Decline,
}

/// Why a moderator declined. Stable codes, like [`ReasonCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    Inappropriate,
    LowQuality,
    NotRelevant,
    Copyright,
    Other,
}

impl DeclineReason {
    /// One sentence for the owner: the emails say why in words, not as a code.
    pub fn describe(self) -> &'static str {
        match self {
            DeclineReason::Inappropriate => {
                "The image is not appropriate for a restaurant's public page."
            }
            DeclineReason::LowQuality => {
                "The image's quality is too low (blurred, dark or too small)."
            }
            DeclineReason::NotRelevant => {
                "The image does not show the restaurant, its food or its place."
            }
            DeclineReason::Copyright => "The image appears to belong to someone else.",
            DeclineReason::Other => "The moderator declined it for another reason.",
        }
    }
}

/// One upload, from the owner's intent to its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub id: UploadId,
    /// Who asked for the change: a member of `target.restaurant` when the intent was made.
    pub owner: OwnerId,
    /// The slot this upload asks to change. Flattened in JSON: `"restaurant"`, `"slot"`.
    #[serde(flatten)]
    pub target: SlotRef,
    pub filename: FileName,
    pub declared_type: ImageType,
    pub declared_size: u64,
    pub method: UploadMethod,
    pub key: ObjectKey,
    pub status: Status,
    /// When the record entered its current status; the review queue is ordered by it.
    pub status_since: Timestamp,
    pub created_at: Timestamp,
    /// The upload must arrive before this instant, or the intent expires.
    pub expires_at: Timestamp,
    pub reason: Option<ReasonCode>,
    pub detected_type: Option<ImageType>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The real size, from the object store.
    pub bytes: Option<u64>,
    /// The object version (or ETag) that intake examined.
    pub object_version: Option<String>,
    pub execution_name: Option<ExecutionName>,
    /// Present only while a decision is pending (`IN_REVIEW`, `DECIDED`). Serde skips it, so
    /// no JSON built from a record can carry it; stores keep it in a field of its own.
    #[serde(skip)]
    pub task_token: Option<TaskToken>,
    pub moderator: Option<ModeratorId>,
    /// Four-eyes review: the moderator whose approval moved the upload to `AWAITING_SECOND`.
    /// `moderator` is then whoever made the deciding (second) decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_approver: Option<ModeratorId>,
    pub decision: Option<Decision>,
    /// When the moderator decided; orders two approved changes to one slot.
    pub decided_at: Option<Timestamp>,
    pub decline_reason: Option<DeclineReason>,
    /// For operators: what went wrong, when the status is `FAILED`.
    pub failure: Option<String>,
    /// The client's reference, when it named one at presign; see [`Self::correlation_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_correlation_id: Option<CorrelationId>,
    /// The review's escalation level: `None` (or 0) until the workflow first escalates it,
    /// then 1, 2. It is also the await stage whose task token is stored; see
    /// [`crate::ports::Uploads::set_review_stage`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_level: Option<u8>,
    /// How many escalation levels this review's workflow has (0: none); set when the review
    /// starts. A decision that finds its token gone at the last level has timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_levels: Option<u8>,
    /// The content's SHA-256: pinned by the client at the intent (the store then refused any
    /// other body), or as the store reported it for the write intake examined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<ContentSha256>,
    /// The store's multipart upload, for a `multipart` intent; set at creation. Serde skips
    /// it: it travels between the server and the store only.
    #[serde(skip)]
    pub multipart_upload_id: Option<MultipartUploadId>,
}

impl UploadRecord {
    /// A new intent: the owner may upload to `key` until `expires_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new_intent(
        id: UploadId,
        owner: OwnerId,
        target: SlotRef,
        filename: FileName,
        declared_type: ImageType,
        declared_size: u64,
        method: UploadMethod,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Self {
        let key = ObjectKey::incoming(&target, &id);
        Self {
            id,
            owner,
            target,
            filename,
            declared_type,
            declared_size,
            method,
            key,
            status: Status::AwaitingUpload,
            status_since: now,
            created_at: now,
            expires_at,
            reason: None,
            detected_type: None,
            width: None,
            height: None,
            bytes: None,
            object_version: None,
            execution_name: None,
            task_token: None,
            moderator: None,
            first_approver: None,
            decision: None,
            decided_at: None,
            decline_reason: None,
            failure: None,
            client_correlation_id: None,
            escalation_level: None,
            escalation_levels: None,
            sha256: None,
            multipart_upload_id: None,
        }
    }

    /// The same intent, with the content's SHA-256 the client pinned.
    pub fn with_sha256(mut self, sha256: Option<ContentSha256>) -> Self {
        self.sha256 = sha256;
        self
    }

    /// The same intent, for the store's multipart upload `multipart`.
    pub fn with_multipart_upload_id(mut self, multipart: Option<MultipartUploadId>) -> Self {
        self.multipart_upload_id = multipart;
        self
    }

    /// The same intent, carrying the client's correlation id.
    pub fn with_correlation_id(mut self, correlation_id: Option<CorrelationId>) -> Self {
        self.client_correlation_id = correlation_id;
        self
    }

    /// What ties this upload's events together from presign to publish: the client's
    /// reference if it named one, else the upload id. Never changes after the intent.
    pub fn correlation_id(&self) -> CorrelationId {
        self.client_correlation_id
            .clone()
            .unwrap_or_else(|| CorrelationId::of_upload(&self.id))
    }

    /// Writes this record's correlation id into the current span's `correlation_id` field,
    /// so every log line of the step carries it (a span without the field ignores it).
    pub fn trace_correlation(&self) {
        tracing::Span::current().record(
            "correlation_id",
            tracing::field::display(self.correlation_id()),
        );
    }

    /// Applies a transition, or says why it cannot. This is the reference semantics of
    /// `Uploads::transition`:
    /// - the record must be in `transition.from`, else [`TransitionError::Conflict`];
    /// - `status` and `status_since` take the new values, and each `Some` change is written;
    /// - the task token is cleared whenever the new status is not one that awaits a decision.
    pub fn apply(&self, transition: &Transition) -> Result<UploadRecord, TransitionError> {
        if self.status != transition.from {
            return Err(TransitionError::Conflict {
                id: self.id,
                expected: transition.from,
                actual: self.status,
            });
        }
        let mut next = self.clone();
        next.status = transition.to;
        next.status_since = transition.at;
        let c = &transition.changes;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = &c.$field { next.$field = Some(v.clone()); } )* };
        }
        set!(
            reason,
            detected_type,
            width,
            height,
            bytes,
            object_version,
            execution_name,
            task_token,
            moderator,
            first_approver,
            decision,
            decided_at,
            decline_reason,
            failure,
            escalation_levels,
            sha256
        );
        if !transition.to.awaits_decision() {
            next.task_token = None;
        }
        Ok(next)
    }
}

impl UploadRecord {
    /// The await stage whose token the record holds: 0 before any escalation.
    pub fn review_stage(&self) -> u8 {
        self.escalation_level.unwrap_or(0)
    }

    /// Whether the stored token belongs to the review's last await stage, whose timeout
    /// expires the review.
    pub fn at_last_review_stage(&self) -> bool {
        self.review_stage() >= self.escalation_levels.unwrap_or(0)
    }

    /// The reference semantics of [`crate::ports::Uploads::set_review_stage`]: `None` when the
    /// condition fails (not `IN_REVIEW`, or already at a later stage).
    pub fn with_review_stage(&self, level: u8, task_token: Option<&TaskToken>) -> Option<Self> {
        if !self.status.is_open_review() || self.review_stage() > level {
            return None;
        }
        let mut next = self.clone();
        next.escalation_level = Some(level);
        if let Some(token) = task_token {
            next.task_token = Some(token.clone());
        }
        Some(next)
    }
}

impl Status {
    /// A review a moderator has yet to decide: `IN_REVIEW`, or `AWAITING_SECOND` in four-eyes
    /// review. Its escalation timers keep running.
    pub fn is_open_review(self) -> bool {
        matches!(self, Status::InReview | Status::AwaitingSecond)
    }

    /// Statuses in which the workflow waits on a task token held by the record.
    pub fn awaits_decision(self) -> bool {
        matches!(
            self,
            Status::InReview | Status::AwaitingSecond | Status::Decided
        )
    }
}

/// Fields a transition sets. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordChanges {
    pub reason: Option<ReasonCode>,
    pub detected_type: Option<ImageType>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub bytes: Option<u64>,
    pub object_version: Option<String>,
    pub execution_name: Option<ExecutionName>,
    pub task_token: Option<TaskToken>,
    pub moderator: Option<ModeratorId>,
    pub first_approver: Option<ModeratorId>,
    pub decision: Option<Decision>,
    pub decided_at: Option<Timestamp>,
    pub decline_reason: Option<DeclineReason>,
    pub failure: Option<String>,
    pub escalation_levels: Option<u8>,
    pub sha256: Option<ContentSha256>,
}

/// A checked move of one record from one status to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub at: Timestamp,
    pub changes: RecordChanges,
}

impl Transition {
    /// A move the status machine allows, with no field changes yet.
    pub fn new(from: Status, to: Status, at: Timestamp) -> Result<Self, IllegalMove> {
        from.check_move(to)?;
        Ok(Self {
            from,
            to,
            at,
            changes: RecordChanges::default(),
        })
    }

    pub fn with(mut self, changes: RecordChanges) -> Self {
        self.changes = changes;
        self
    }
}

/// Why a transition did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("upload {id} is {actual}, not {expected}")]
    Conflict {
        id: UploadId,
        expected: Status,
        actual: Status,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restaurant::{RestaurantId, Slot};

    fn intent() -> UploadRecord {
        UploadRecord::new_intent(
            UploadId::generate(),
            OwnerId::parse("owner-1").unwrap(),
            SlotRef::new(RestaurantId::parse("r1").unwrap(), Slot::Logo),
            FileName::parse("logo.png").unwrap(),
            ImageType::Png,
            1234,
            UploadMethod::Post,
            Timestamp::from_unix_millis(1_000),
            Timestamp::from_unix_millis(301_000),
        )
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    #[test]
    fn the_correlation_id_is_the_clients_if_named_and_survives_every_transition() {
        let r = intent();
        assert_eq!(r.correlation_id(), CorrelationId::of_upload(&r.id));
        let named = CorrelationId::parse("order-7").unwrap();
        let r = r.with_correlation_id(Some(named.clone()));
        let received = r
            .apply(&Transition::new(Status::AwaitingUpload, Status::Received, at(2_000)).unwrap())
            .unwrap();
        assert_eq!(received.correlation_id(), named);
    }

    #[test]
    fn an_intent_is_awaiting_upload_at_its_server_built_key() {
        let r = intent();
        assert_eq!(r.status, Status::AwaitingUpload);
        assert_eq!(r.key, ObjectKey::incoming(&r.target, &r.id));
    }

    #[test]
    fn apply_moves_status_and_writes_only_the_given_fields() {
        let r = intent();
        let t = Transition::new(Status::AwaitingUpload, Status::Received, at(2_000))
            .unwrap()
            .with(RecordChanges {
                bytes: Some(99),
                ..Default::default()
            });
        let next = r.apply(&t).unwrap();
        assert_eq!(next.status, Status::Received);
        assert_eq!(next.status_since, at(2_000));
        assert_eq!(next.bytes, Some(99));
        assert_eq!(next.created_at, r.created_at);
        assert_eq!(next.width, None);
    }

    #[test]
    fn apply_refuses_a_record_in_another_status() {
        let r = intent();
        let t = Transition::new(Status::Received, Status::InReview, at(2_000)).unwrap();
        assert_eq!(
            r.apply(&t),
            Err(TransitionError::Conflict {
                id: r.id,
                expected: Status::Received,
                actual: Status::AwaitingUpload
            })
        );
    }

    #[test]
    fn transitions_the_machine_forbids_cannot_be_built() {
        assert!(Transition::new(Status::Published, Status::Received, at(0)).is_err());
        assert!(Transition::new(Status::AwaitingUpload, Status::Published, at(0)).is_err());
    }

    #[test]
    fn the_task_token_lives_only_while_a_decision_is_pending() {
        let token = TaskToken::parse("tok").unwrap();
        let mut r = intent();
        for (from, to) in [
            (Status::AwaitingUpload, Status::Received),
            (Status::Received, Status::InReview),
        ] {
            let changes = RecordChanges {
                task_token: Some(token.clone()),
                ..Default::default()
            };
            r = r
                .apply(&Transition::new(from, to, at(5)).unwrap().with(changes))
                .unwrap();
        }
        assert_eq!(r.task_token, Some(token.clone()));
        r = r
            .apply(&Transition::new(Status::InReview, Status::Decided, at(6)).unwrap())
            .unwrap();
        assert_eq!(r.task_token, Some(token));
        r = r
            .apply(&Transition::new(Status::Decided, Status::Approved, at(7)).unwrap())
            .unwrap();
        assert_eq!(r.task_token, None);
    }

    #[test]
    fn a_received_record_never_keeps_a_token_it_was_given() {
        let r = intent();
        let t = Transition::new(Status::AwaitingUpload, Status::Received, at(2))
            .unwrap()
            .with(RecordChanges {
                task_token: Some(TaskToken::parse("tok").unwrap()),
                ..Default::default()
            });
        assert_eq!(r.apply(&t).unwrap().task_token, None);
    }

    #[test]
    fn json_of_a_record_never_carries_the_token() {
        let mut r = intent();
        r.task_token = Some(TaskToken::parse("very-secret-token").unwrap());
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("very-secret-token"));
        let back: UploadRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.task_token, None);
    }

    #[test]
    fn a_filenames_extension_is_what_follows_its_last_dot() {
        let extension = |raw: &str| FileName::parse(raw).unwrap().extension().map(str::to_owned);
        assert_eq!(extension("logo.png").as_deref(), Some("png"));
        assert_eq!(extension("LOGO.PNG").as_deref(), Some("PNG"));
        assert_eq!(extension("menu.tar.jpeg").as_deref(), Some("jpeg"));
        assert_eq!(extension("logo.png.exe").as_deref(), Some("exe"));
        for none in ["logo", "logo.", ".png", "a b"] {
            assert_eq!(extension(none), None, "{none:?}");
        }
    }

    #[test]
    fn filenames_are_metadata_but_still_checked() {
        for good in [
            "logo.png",
            "Menu photo (1).JPG",
            "café.webp",
            "a",
            "メニュー.png",
            "🍕 pizza.jpg",
            "שלום.png",
        ] {
            assert!(FileName::parse(good).is_ok(), "{good:?} refused");
        }
        let cases = [
            ("", FileNameError::Empty),
            ("   ", FileNameError::Empty),
            ("a/b.png", FileNameError::PathLike),
            ("..\\x.png", FileNameError::PathLike),
            ("..png", FileNameError::PathLike),
            ("a\u{0}.png", FileNameError::ControlCharacter),
            ("a\n.png", FileNameError::ControlCharacter),
            ("gpj\u{202E}.exe", FileNameError::ControlCharacter),
            ("a\u{2067}b.png", FileNameError::ControlCharacter),
            ("lo\u{200B}go.png", FileNameError::ControlCharacter),
            ("\u{FEFF}logo.png", FileNameError::ControlCharacter),
            (
                "logo\u{E0041}\u{E007F}.png",
                FileNameError::ControlCharacter,
            ),
            ("a\u{2028}b.png", FileNameError::ControlCharacter),
            ("a\u{2029}b.png", FileNameError::ControlCharacter),
            ("a\u{00AD}b.png", FileNameError::ControlCharacter),
            ("a\u{0085}b.png", FileNameError::ControlCharacter),
        ];
        for (bad, why) in cases {
            assert_eq!(FileName::parse(bad), Err(why), "{bad:?}");
        }
        assert_eq!(
            FileName::parse(&"x".repeat(256)),
            Err(FileNameError::TooLong)
        );
    }

    #[test]
    fn a_stored_filename_from_before_the_format_rule_still_reads() {
        let older = "lo\u{200B}go.png";
        assert!(FileName::parse(older).is_err());
        assert_eq!(FileName::from_stored(older).unwrap().as_str(), older);
        assert_eq!(
            FileName::from_stored("a\n.png"),
            Err(FileNameError::ControlCharacter)
        );
    }
}
