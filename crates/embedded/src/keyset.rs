//! Page tokens of keyset-paged listings: the last item's sort key and id, under a tag naming
//! the listing (`tag:at:id`, base64url), so a token of one listing is refused by another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use vetted_core::ports::PageToken;

/// The position after an item whose sort key is `at` and id is `id`, in listing `tag`.
pub(crate) fn encode(tag: &str, at: i64, id: &str) -> PageToken {
    PageToken(URL_SAFE_NO_PAD.encode(format!("{tag}:{at}:{id}")))
}

/// The `(at, id)` a token of listing `tag` stands for; `None` for anything else.
pub(crate) fn decode(tag: &str, token: &PageToken) -> Option<(i64, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(&token.0).ok()?;
    let plain = String::from_utf8(bytes).ok()?;
    let mut parts = plain.splitn(3, ':');
    let (Some(found), Some(at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if found != tag {
        return None;
    }
    Some((at.parse().ok()?, id.to_owned()))
}
