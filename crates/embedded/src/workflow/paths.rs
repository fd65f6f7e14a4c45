//! JSONPath as the States Language uses it: Paths that read (`InputPath`, `OutputPath`, `.$`
//! fields, a Choice's `Variable`), and Reference Paths that can also write (`ResultPath`).
//!
//! A Reference Path (`$`, `$.a.b`, `$['a b']`, `$.items[0]`) names one node, so the engine
//! walks it itself, which is also how `ResultPath` writes. Any other path (wildcards, filters,
//! slices, descendants) is evaluated by `serde_json_path` (RFC 9535) and yields an array of
//! what it selected, as Step Functions' indefinite paths do. A path starting with `$$` reads
//! the context object (`$$.Execution.Name`, `$$.Task.Token`) instead of the input.

use std::fmt;

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

/// One step of a Reference Path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Field(String),
    Index(usize),
}

#[derive(Debug, Clone)]
enum Query {
    Reference(Vec<Segment>),
    General(JsonPath),
}

/// A parsed path.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    text: String,
    context: bool,
    query: Query,
}

/// A path that selected nothing, or could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError(pub(crate) String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Path {
    /// Parses `text`; `$$` paths are accepted only where `context` is allowed.
    pub(crate) fn parse(text: &str, allow_context: bool) -> Result<Path, String> {
        let (context, rooted) = match text.strip_prefix("$$") {
            Some(rest) if allow_context => (true, format!("${rest}")),
            Some(_) => return Err("the context object ($$) cannot be read here".to_owned()),
            None if text.starts_with('$') => (false, text.to_owned()),
            None => return Err(format!("{text:?} is not a path: paths start with $")),
        };
        let query = match parse_reference(&rooted) {
            Some(segments) => Query::Reference(segments),
            None => Query::General(
                JsonPath::parse(&rooted)
                    .map_err(|e| format!("{text:?} is not a valid JSONPath: {e}"))?,
            ),
        };
        Ok(Path {
            text: text.to_owned(),
            context,
            query,
        })
    }

    /// Parses a Reference Path (one node, no `$$`), as `ResultPath` and a Choice's `Variable`
    /// require.
    pub(crate) fn parse_reference(text: &str) -> Result<Vec<Segment>, String> {
        if text.starts_with("$$") {
            return Err("the context object ($$) cannot be used here".to_owned());
        }
        parse_reference(text).ok_or_else(|| {
            format!("{text:?} is not a reference path (one node: $, $.a.b, $['a'], $.a[0])")
        })
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn is_reference(&self) -> bool {
        matches!(self.query, Query::Reference(_))
    }

    /// What the path selects from `input` (or from `context` for a `$$` path).
    pub(crate) fn read(&self, input: &Value, context: &Value) -> Result<Value, PathError> {
        let root = if self.context { context } else { input };
        match &self.query {
            Query::Reference(segments) => walk(root, segments).cloned().ok_or_else(|| {
                let what = if self.context {
                    "context object"
                } else {
                    "input"
                };
                PathError(format!(
                    "the path {} selects nothing in the {what}",
                    self.text
                ))
            }),
            Query::General(query) => Ok(Value::Array(
                query.query(root).all().into_iter().cloned().collect(),
            )),
        }
    }
}

fn walk<'v>(mut node: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    for segment in segments {
        node = match segment {
            Segment::Field(name) => node.as_object()?.get(name)?,
            Segment::Index(i) => node.as_array()?.get(*i)?,
        };
    }
    Some(node)
}

/// `$` followed by `.name`, `['name']`, `["name"]` or `[digits]`; `None` for anything else.
fn parse_reference(text: &str) -> Option<Vec<Segment>> {
    let mut rest = text.strip_prefix('$')?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            let plain = !name.is_empty()
                && !name.contains([' ', '*', '@', '(', ')', ',', ':', '?', '\'', '"', ']', '$']);
            if !plain {
                return None;
            }
            segments.push(Segment::Field(name.to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (segment, used) = bracket(after)?;
            segments.push(segment);
            rest = &after[used..];
        } else {
            return None;
        }
    }
    Some(segments)
}

/// One bracketed segment after its `[`: the segment and how many bytes it used, `]` included.
fn bracket(text: &str) -> Option<(Segment, usize)> {
    let quote = text.chars().next()?;
    if quote == '\'' || quote == '"' {
        let mut name = String::new();
        let mut chars = text.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => name.push(chars.next()?.1),
                c if c == quote => {
                    let close = i + c.len_utf8();
                    return text[close..]
                        .starts_with(']')
                        .then(|| (Segment::Field(name), close + 1));
                }
                c => name.push(c),
            }
        }
        return None;
    }
    let end = text.find(']')?;
    let digits = &text[..end];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Segment::Index(digits.parse().ok()?), end + 1))
}

/// What `InputPath` or `OutputPath` does.
#[derive(Debug, Clone)]
pub(crate) enum Selector {
    /// Absent, or `$`: everything.
    Whole,
    /// `null`: an empty object.
    Nothing,
    Path(Path),
}

impl Selector {
    pub(crate) fn parse(value: Option<&Value>) -> Result<Selector, String> {
        match value {
            None => Ok(Selector::Whole),
            Some(Value::Null) => Ok(Selector::Nothing),
            Some(Value::String(s)) if s == "$" => Ok(Selector::Whole),
            Some(Value::String(s)) => Path::parse(s, false).map(Selector::Path),
            Some(_) => Err("must be a path or null".to_owned()),
        }
    }

    pub(crate) fn apply(&self, value: Value) -> Result<Value, PathError> {
        match self {
            Selector::Whole => Ok(value),
            Selector::Nothing => Ok(Value::Object(Map::new())),
            Selector::Path(path) => path.read(&value, &Value::Null),
        }
    }
}

/// Where `ResultPath` puts a result in the state's raw input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResultPath {
    /// Absent, or `$`: the result replaces the input.
    Replace,
    /// `null`: the result is discarded and the input passes through.
    Discard,
    At(Vec<Segment>),
}

impl ResultPath {
    pub(crate) fn parse(value: Option<&Value>) -> Result<ResultPath, String> {
        match value {
            None => Ok(ResultPath::Replace),
            Some(Value::Null) => Ok(ResultPath::Discard),
            Some(Value::String(s)) => {
                let segments = Path::parse_reference(s)?;
                Ok(if segments.is_empty() {
                    ResultPath::Replace
                } else {
                    ResultPath::At(segments)
                })
            }
            Some(_) => Err("must be a reference path or null".to_owned()),
        }
    }

    /// Combines `raw_input` with `result`. Missing objects on the way are created; a node on
    /// the way that is not an object (or an index past an array's end) is an error.
    pub(crate) fn apply(&self, raw_input: Value, result: Value) -> Result<Value, PathError> {
        match self {
            ResultPath::Replace => Ok(result),
            ResultPath::Discard => Ok(raw_input),
            ResultPath::At(segments) => {
                let mut target = raw_input;
                put(&mut target, segments, result)?;
                Ok(target)
            }
        }
    }
}

fn put(node: &mut Value, segments: &[Segment], value: Value) -> Result<(), PathError> {
    let Some((first, rest)) = segments.split_first() else {
        *node = value;
        return Ok(());
    };
    let child = match first {
        Segment::Field(name) => {
            let object = node.as_object_mut().ok_or_else(|| {
                PathError(format!(
                    "cannot set field {name:?}: its parent is not an object"
                ))
            })?;
            if rest.is_empty() {
                object.insert(name.clone(), value);
                return Ok(());
            }
            object
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()))
        }
        Segment::Index(i) => node
            .as_array_mut()
            .and_then(|items| items.get_mut(*i))
            .ok_or_else(|| PathError(format!("cannot set index {i}: no such array element")))?,
    };
    put(child, rest, value)
}

#[cfg(test)]
#[path = "paths_tests.rs"]
mod tests;
