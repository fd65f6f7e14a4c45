//! Unit tests of paths: reference paths, general queries, ResultPath writes.
use serde_json::json;

use super::*;

fn field(name: &str) -> Segment {
    Segment::Field(name.to_owned())
}

#[test]
fn reference_paths_are_recognised_and_others_are_not() {
    assert_eq!(parse_reference("$"), Some(vec![]));
    assert_eq!(
        parse_reference("$.a.b_c"),
        Some(vec![field("a"), field("b_c")])
    );
    assert_eq!(
        parse_reference("$['a b'][2].c"),
        Some(vec![field("a b"), Segment::Index(2), field("c")])
    );
    assert_eq!(parse_reference("$[\"q\\\"\"]"), Some(vec![field("q\"")]));
    for general in ["$.a[*]", "$..a", "$.a[1:2]", "$.a[?@.b]", "$.*", "$.a[-1]"] {
        assert_eq!(parse_reference(general), None, "{general}");
        assert!(Path::parse(general, false).is_ok(), "{general}");
    }
    assert!(Path::parse("a.b", false).is_err());
    assert!(Path::parse("$$.Task.Token", false).is_err());
    assert!(Path::parse("$.a[", false).is_err());
}

#[test]
fn paths_read_input_and_context() {
    let input = json!({"a": {"b": [10, 20]}, "items": [{"x": 1}, {"x": 2}]});
    let context = json!({"Task": {"Token": "t"}});
    let read = |p: &str| Path::parse(p, true).unwrap().read(&input, &context);
    assert_eq!(read("$.a.b[1]").unwrap(), json!(20));
    assert_eq!(read("$$.Task.Token").unwrap(), json!("t"));
    assert_eq!(read("$.items[*].x").unwrap(), json!([1, 2]));
    assert_eq!(read("$.items[?@.x > 5]").unwrap(), json!([]));
    assert!(read("$.missing").is_err());
    assert!(read("$$.Execution.Name").is_err());
}

#[test]
fn result_paths_write_into_the_raw_input() {
    let rp = |s: &str| ResultPath::parse(Some(&json!(s))).unwrap();
    let raw = json!({"upload_id": "u", "x": {"y": 1}});
    assert_eq!(
        rp("$.sanitize")
            .apply(raw.clone(), json!({"v": 1}))
            .unwrap(),
        json!({"upload_id": "u", "x": {"y": 1}, "sanitize": {"v": 1}})
    );
    assert_eq!(
        rp("$.x.z.w").apply(raw.clone(), json!(2)).unwrap(),
        json!({"upload_id": "u", "x": {"y": 1, "z": {"w": 2}}})
    );
    assert_eq!(rp("$").apply(raw.clone(), json!(3)).unwrap(), json!(3));
    assert!(
        rp("$.upload_id.deeper")
            .apply(raw.clone(), json!(1))
            .is_err()
    );
    assert!(rp("$.a").apply(json!("text"), json!(1)).is_err());
    let discard = ResultPath::parse(Some(&Value::Null)).unwrap();
    assert_eq!(discard.apply(raw.clone(), json!(1)).unwrap(), raw);
    assert!(ResultPath::parse(Some(&json!("$.a[*]"))).is_err());
    assert!(ResultPath::parse(Some(&json!("$$.Task"))).is_err());
}
