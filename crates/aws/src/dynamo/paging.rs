//! Page tokens for listings over a secondary index: the DynamoDB start key, made opaque.
//!
//! A token is base64url of the start key's JSON (`{"id":{"S":"…"},"owner":{"S":"…"},…}`).
//! Decoding checks that it names exactly the index's key attributes and the partition being
//! listed, so a forged or foreign token is `BadPageToken` and never reaches DynamoDB as an
//! invalid start key.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use vetted_core::ports::PageToken;

use super::item::{ID, Item};

/// A secondary index: its partition and sort attributes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Index {
    pub name: &'static str,
    pub partition: &'static str,
    pub sort: &'static str,
}

/// The two kinds of attribute a key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum KeyValue {
    S(String),
    N(String),
}

/// The start key for the page after `item`: the table's key and the index's keys.
pub(crate) fn key_after(index: Index, item: &Item) -> Item {
    [ID, index.partition, index.sort]
        .into_iter()
        .filter_map(|name| item.get(name).map(|v| (name.to_owned(), v.clone())))
        .collect()
}

pub(crate) fn encode(key: &Item) -> PageToken {
    let plain: BTreeMap<&str, KeyValue> = key
        .iter()
        .filter_map(|(name, value)| {
            let value = match value {
                AttributeValue::S(text) => KeyValue::S(text.clone()),
                AttributeValue::N(text) => KeyValue::N(text.clone()),
                _ => return None,
            };
            Some((name.as_str(), value))
        })
        .collect();
    let json = serde_json::to_vec(&plain).unwrap_or_default();
    PageToken(URL_SAFE_NO_PAD.encode(json))
}

/// The start key a token stands for, if it is one issued for `index` and `partition`.
pub(crate) fn decode(token: &PageToken, index: Index, partition: &str) -> Option<Item> {
    let json = URL_SAFE_NO_PAD.decode(token.0.as_bytes()).ok()?;
    let plain: BTreeMap<String, KeyValue> = serde_json::from_slice(&json).ok()?;
    let expected = [ID, index.partition, index.sort];
    if plain.len() != expected.len() || !expected.iter().all(|k| plain.contains_key(*k)) {
        return None;
    }
    if plain.get(index.partition) != Some(&KeyValue::S(partition.to_owned())) {
        return None;
    }
    if !matches!(plain.get(ID), Some(KeyValue::S(_))) {
        return None;
    }
    match plain.get(index.sort) {
        Some(KeyValue::N(number)) if number.parse::<i64>().is_ok() => {}
        _ => return None,
    }
    Some(
        plain
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    KeyValue::S(text) => AttributeValue::S(text),
                    KeyValue::N(text) => AttributeValue::N(text),
                };
                (name, value)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BY_OWNER: Index = Index {
        name: "by-owner",
        partition: "owner",
        sort: "created_at",
    };

    fn key(owner: &str) -> Item {
        Item::from([
            ("id".to_owned(), AttributeValue::S("u1".to_owned())),
            ("owner".to_owned(), AttributeValue::S(owner.to_owned())),
            ("created_at".to_owned(), AttributeValue::N("17".to_owned())),
        ])
    }

    #[test]
    fn a_token_decodes_to_the_key_it_was_made_from() {
        let token = encode(&key("alice"));
        assert_eq!(decode(&token, BY_OWNER, "alice"), Some(key("alice")));
    }

    #[test]
    fn foreign_and_forged_tokens_are_refused() {
        let token = encode(&key("alice"));
        assert_eq!(decode(&token, BY_OWNER, "bob"), None);
        assert_eq!(
            decode(&PageToken("not base64!".into()), BY_OWNER, "alice"),
            None
        );
        let mut extra = key("alice");
        extra.insert("x".to_owned(), AttributeValue::S("y".to_owned()));
        assert_eq!(decode(&encode(&extra), BY_OWNER, "alice"), None);
        let mut bad_sort = key("alice");
        bad_sort.insert("created_at".to_owned(), AttributeValue::N("abc".to_owned()));
        assert_eq!(decode(&encode(&bad_sort), BY_OWNER, "alice"), None);
    }
}
