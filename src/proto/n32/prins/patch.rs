//! JSON Pointer (RFC 6901) and JSON Patch (RFC 6902) over `serde_json::Value`, written by hand
//! (no extra dependency): the language of Roaming Intermediary modifications (TS 29.573 6.2.5.2
//! `Modifications.operations`, TS 29.571 `PatchItem`).
//!
//! A patch is applied atomically: on a copy of the document, which replaces the original only
//! when every operation succeeded (RFC 6902 5).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Why a pointer could not be parsed or a patch could not be applied. All come from peer input.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// Not a valid RFC 6901 pointer (must be empty or start with `/`; `~` only as `~0`/`~1`).
    #[error("patch: invalid json pointer `{0}`")]
    BadPointer(String),
    /// The pointer names no value in the document.
    #[error("patch: `{0}` does not exist")]
    NotFound(String),
    /// An array index that is not a number without leading zeros, or out of range.
    #[error("patch: bad array index in `{0}`")]
    BadIndex(String),
    /// `move`, `copy` without `from`, or `add`, `replace`, `test` without `value`.
    #[error("patch: operation {0} lacks `{1}`")]
    MissingMember(&'static str, &'static str),
    /// `move` into one of its own children (RFC 6902 4.4).
    #[error("patch: cannot move `{0}` into itself")]
    MoveIntoChild(String),
    /// A `test` operation found a different value (RFC 6902 4.6).
    #[error("patch: test failed at `{0}`")]
    TestFailed(String),
    /// Removing the whole document.
    #[error("patch: cannot remove the document root")]
    RemoveRoot,
    /// A member of a scalar (neither object nor array).
    #[error("patch: `{0}` is not a container")]
    NotContainer(String),
    /// The patch would write more than [`MAX_VALUES`] values or nest the document deeper than
    /// [`MAX_DEPTH`].
    #[error("patch: writing at `{0}` makes the document too large")]
    TooLarge(String),
}

/// The most JSON values (objects, arrays and scalars) one patch may write. `copy` of the whole
/// document to a new member doubles it, so a patch of a few hundred bytes could otherwise ask
/// for gigabytes (a peer's input); a PRINS view holds a few hundred values.
pub const MAX_VALUES: usize = 1 << 16;

/// The deepest a patched document may nest (a value's own depth plus the depth it is written
/// at): repeated `add`s could otherwise nest without end, and the recursive walks over the
/// document (clone, drop, comparison, serialization) would overflow the stack.
pub const MAX_DEPTH: usize = 256;

/// RFC 6902 operation name (TS 29.571 `PatchOperation`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchOperation {
    /// RFC 6902 4.1.
    Add,
    /// RFC 6902 4.5.
    Copy,
    /// RFC 6902 4.4.
    Move,
    /// RFC 6902 4.2.
    Remove,
    /// RFC 6902 4.3.
    Replace,
    /// RFC 6902 4.6.
    Test,
}

impl PatchOperation {
    fn name(self) -> &'static str {
        match self {
            PatchOperation::Add => "add",
            PatchOperation::Copy => "copy",
            PatchOperation::Move => "move",
            PatchOperation::Remove => "remove",
            PatchOperation::Replace => "replace",
            PatchOperation::Test => "test",
        }
    }
}

/// One JSON Patch operation (TS 29.571 `PatchItem`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct PatchItem {
    /// The operation.
    pub op: PatchOperation,
    /// Target (RFC 6901 pointer).
    pub path: String,
    /// Source for `move` and `copy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Value for `add`, `replace`, `test`. A JSON `null` on the wire is `Some(Value::Null)`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub value: Option<Value>,
}

/// Deserializes a present member, `null` included, as `Some`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl PatchItem {
    /// `add` `value` at `path`.
    pub fn add(path: impl Into<String>, value: Value) -> Self {
        PatchItem {
            op: PatchOperation::Add,
            path: path.into(),
            from: None,
            value: Some(value),
        }
    }

    /// `remove` `path`.
    pub fn remove(path: impl Into<String>) -> Self {
        PatchItem {
            op: PatchOperation::Remove,
            path: path.into(),
            from: None,
            value: None,
        }
    }

    /// `replace` `path` with `value`.
    pub fn replace(path: impl Into<String>, value: Value) -> Self {
        PatchItem {
            op: PatchOperation::Replace,
            ..PatchItem::add(path, value)
        }
    }

    /// `test` that `path` equals `value`.
    pub fn test(path: impl Into<String>, value: Value) -> Self {
        PatchItem {
            op: PatchOperation::Test,
            ..PatchItem::add(path, value)
        }
    }

    /// `move` `from` to `path`.
    pub fn move_(from: impl Into<String>, path: impl Into<String>) -> Self {
        PatchItem {
            op: PatchOperation::Move,
            path: path.into(),
            from: Some(from.into()),
            value: None,
        }
    }

    /// `copy` `from` to `path`.
    pub fn copy(from: impl Into<String>, path: impl Into<String>) -> Self {
        PatchItem {
            op: PatchOperation::Copy,
            ..PatchItem::move_(from, path)
        }
    }
}

/// Splits an RFC 6901 pointer into unescaped reference tokens. `""` is the whole document.
pub fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    //= RFC 6901 3: json-pointer = *( "/" reference-token )
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PatchError::BadPointer(pointer.to_owned()));
    };
    rest.split('/')
        .map(|token| unescape(token).ok_or_else(|| PatchError::BadPointer(pointer.to_owned())))
        .collect()
}

/// RFC 6901 4: `~1` → `/` first, then `~0` → `~`; any other `~` is an error.
fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Builds a pointer from reference tokens (RFC 6901 3 escaping).
pub fn format_pointer<S: AsRef<str>>(tokens: &[S]) -> String {
    let mut out = String::new();
    for token in tokens {
        out.push('/');
        out.push_str(&token.as_ref().replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// RFC 6901 4: an array index is `0` or digits without a leading zero.
fn array_index(token: &str, len: usize, pointer: &str, allow_end: bool) -> Result<usize, PatchError> {
    let bad = || PatchError::BadIndex(pointer.to_owned());
    if token == "-" {
        return if allow_end { Ok(len) } else { Err(bad()) };
    }
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) || (token.len() > 1 && token.starts_with('0')) {
        return Err(bad());
    }
    let index: usize = token.parse().map_err(|_| bad())?;
    if index < len || (allow_end && index == len) {
        Ok(index)
    } else {
        Err(bad())
    }
}

/// Resolves a pointer to a value.
pub fn get<'a>(doc: &'a Value, pointer: &str) -> Result<&'a Value, PatchError> {
    let tokens = parse_pointer(pointer)?;
    get_tokens(doc, &tokens, pointer)
}

fn get_tokens<'a>(doc: &'a Value, tokens: &[String], pointer: &str) -> Result<&'a Value, PatchError> {
    let mut cur = doc;
    for token in tokens {
        cur = match cur {
            Value::Object(map) => map.get(token).ok_or_else(|| PatchError::NotFound(pointer.to_owned()))?,
            Value::Array(items) => &items[array_index(token, items.len(), pointer, false)?],
            _ => return Err(PatchError::NotFound(pointer.to_owned())),
        };
    }
    Ok(cur)
}

fn get_tokens_mut<'a>(doc: &'a mut Value, tokens: &[String], pointer: &str) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for token in tokens {
        cur = match cur {
            Value::Object(map) => map
                .get_mut(token)
                .ok_or_else(|| PatchError::NotFound(pointer.to_owned()))?,
            Value::Array(items) => {
                let index = array_index(token, items.len(), pointer, false)?;
                &mut items[index]
            }
            _ => return Err(PatchError::NotFound(pointer.to_owned())),
        };
    }
    Ok(cur)
}

/// RFC 6902 4.1 add: creates or replaces an object member, inserts into an array (`-` appends),
/// replaces the whole document at `""`.
fn add(doc: &mut Value, pointer: &str, value: Value) -> Result<(), PatchError> {
    let tokens = parse_pointer(pointer)?;
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_tokens_mut(doc, parent, pointer)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = array_index(last, items.len(), pointer, true)?;
            items.insert(index, value);
            Ok(())
        }
        _ => Err(PatchError::NotContainer(pointer.to_owned())),
    }
}

/// RFC 6902 4.2 remove; returns the removed value.
fn remove(doc: &mut Value, pointer: &str) -> Result<Value, PatchError> {
    let tokens = parse_pointer(pointer)?;
    let Some((last, parent)) = tokens.split_last() else {
        return Err(PatchError::RemoveRoot);
    };
    match get_tokens_mut(doc, parent, pointer)? {
        // shift_remove keeps the order of the other members (preserve_order).
        Value::Object(map) => map
            .shift_remove(last)
            .ok_or_else(|| PatchError::NotFound(pointer.to_owned())),
        Value::Array(items) => {
            let index = array_index(last, items.len(), pointer, false)?;
            Ok(items.remove(index))
        }
        _ => Err(PatchError::NotFound(pointer.to_owned())),
    }
}

/// Applies one operation in place. On error the document may be partly changed; [`apply`]
/// works on a copy.
fn apply_one(doc: &mut Value, item: &PatchItem) -> Result<(), PatchError> {
    let value = || {
        item.value
            .clone()
            .ok_or(PatchError::MissingMember(item.op.name(), "value"))
    };
    let from = || {
        item.from
            .as_deref()
            .ok_or(PatchError::MissingMember(item.op.name(), "from"))
    };
    match item.op {
        PatchOperation::Add => add(doc, &item.path, value()?),
        PatchOperation::Remove => remove(doc, &item.path).map(drop),
        PatchOperation::Replace => {
            //= RFC 6902 4.3: the target location MUST exist
            let target = get_tokens_mut(doc, &parse_pointer(&item.path)?, &item.path)?;
            *target = value()?;
            Ok(())
        }
        PatchOperation::Move => {
            let from = from()?;
            let (from_tokens, path_tokens) = (parse_pointer(from)?, parse_pointer(&item.path)?);
            //= RFC 6902 4.4: "from" MUST NOT be a proper prefix of "path"
            if path_tokens.len() > from_tokens.len() && path_tokens.starts_with(&from_tokens) {
                return Err(PatchError::MoveIntoChild(from.to_owned()));
            }
            let moved = remove(doc, from)?;
            add(doc, &item.path, moved)
        }
        PatchOperation::Copy => {
            let copied = get(doc, from()?)?.clone();
            add(doc, &item.path, copied)
        }
        PatchOperation::Test => {
            //= RFC 6902 4.6: equal JSON values (object member order does not matter)
            if *get(doc, &item.path)? == value()? {
                Ok(())
            } else {
                Err(PatchError::TestFailed(item.path.clone()))
            }
        }
    }
}

/// The number of values in `v` and its depth (a scalar: 1), without recursion.
fn measure(v: &Value) -> (usize, usize) {
    let (mut values, mut depth) = (0, 0);
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        values += 1;
        depth = depth.max(d);
        match v {
            Value::Object(map) => stack.extend(map.values().map(|c| (c, d + 1))),
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    (values, depth)
}

/// Checks that `item` keeps the patch within [`MAX_VALUES`] written values (`values` is the
/// running count; a `move` writes none) and `work` within [`MAX_DEPTH`].
fn check_size(work: &Value, item: &PatchItem, values: &mut usize) -> Result<(), PatchError> {
    let written = match item.op {
        PatchOperation::Add | PatchOperation::Replace => item.value.as_ref(),
        PatchOperation::Copy | PatchOperation::Move => item.from.as_deref().and_then(|f| get(work, f).ok()),
        PatchOperation::Remove | PatchOperation::Test => None,
    };
    let Some(written) = written else {
        return Ok(());
    };
    let (n, depth) = measure(written);
    if item.op != PatchOperation::Move {
        *values = values.saturating_add(n);
    }
    let at = parse_pointer(&item.path).map_or(0, |t| t.len());
    if *values > MAX_VALUES || at + depth > MAX_DEPTH {
        return Err(PatchError::TooLarge(item.path.clone()));
    }
    Ok(())
}

/// Applies a whole patch atomically (RFC 6902 5): `doc` is changed only if all operations apply.
/// Returns the index of the failing operation with the error. A patch that would write more
/// than [`MAX_VALUES`] values or nest the document deeper than [`MAX_DEPTH`] fails
/// ([`PatchError::TooLarge`]).
pub fn apply(doc: &mut Value, items: &[PatchItem]) -> Result<(), (usize, PatchError)> {
    apply_within(doc, items, &mut Budget::default())
}

/// [`apply`] of the one operation `add` `pointer` `value`, without copying the document or
/// the value: the same checks, the same result, `doc` unchanged on error.
pub fn add_one(doc: &mut Value, pointer: &str, value: Value) -> Result<(), PatchError> {
    let (n, depth) = measure(&value);
    let at = parse_pointer(pointer).map_or(0, |t| t.len());
    if n > MAX_VALUES || at + depth > MAX_DEPTH {
        return Err(PatchError::TooLarge(pointer.to_owned()));
    }
    // `add` fails before it writes anything.
    add(doc, pointer, value)
}

/// The value at `pointer`, to change in place (found as [`get`] finds it).
pub fn get_mut<'a>(doc: &'a mut Value, pointer: &str) -> Result<&'a mut Value, PatchError> {
    let tokens = parse_pointer(pointer)?;
    get_tokens_mut(doc, &tokens, pointer)
}

/// [`apply`] of the one operation `replace` `pointer` `value`, without copying the document:
/// the same checks, the same result, `doc` unchanged on error.
pub fn replace_one(doc: &mut Value, pointer: &str, value: Value) -> Result<(), PatchError> {
    let (n, depth) = measure(&value);
    let at = parse_pointer(pointer).map_or(0, |t| t.len());
    if n > MAX_VALUES || at + depth > MAX_DEPTH {
        return Err(PatchError::TooLarge(pointer.to_owned()));
    }
    //= RFC 6902 4.3: the target location MUST exist
    *get_mut(doc, pointer)? = value;
    Ok(())
}

/// The values a sequence of patches has written, against [`MAX_VALUES`]: [`apply`] starts a
/// fresh one per call, [`apply_within`] shares one across calls (the operations of several
/// RIs, or one operation at a time).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Budget {
    written: usize,
}

/// [`apply`], counting the written values in `budget`.
pub fn apply_within(doc: &mut Value, items: &[PatchItem], budget: &mut Budget) -> Result<(), (usize, PatchError)> {
    let mut work = doc.clone();
    for (i, item) in items.iter().enumerate() {
        check_size(&work, item, &mut budget.written).map_err(|e| (i, e))?;
        apply_one(&mut work, item).map_err(|e| (i, e))?;
    }
    *doc = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(mut doc: Value, items: &[PatchItem]) -> Result<Value, PatchError> {
        apply(&mut doc, items).map(|()| doc).map_err(|(_, e)| e)
    }

    #[test]
    fn add_one_is_apply_of_one_add() {
        let deep = (0..MAX_DEPTH).fold(json!(1), |v, _| json!([v]));
        let wide = Value::Array(vec![json!(0); MAX_VALUES]);
        let docs = [json!(null), json!({"a": 1, "b": [1, 2]}), json!([0, 1])];
        let cases = [
            ("", json!({"x": 1})),
            ("/a", json!("v")),
            ("/b/1", json!(3)),
            ("/b/-", json!(4)),
            ("/b/9", json!(5)),
            ("/c/d", json!(6)),
            ("/0", json!(7)),
            ("bad", json!(8)),
            ("", deep),
            ("/a", wide),
        ];
        for doc in &docs {
            for (pointer, value) in &cases {
                let mut one = doc.clone();
                let got = add_one(&mut one, pointer, value.clone()).map(|()| one);
                assert_eq!(
                    got,
                    patched(doc.clone(), &[PatchItem::add(*pointer, value.clone())]),
                    "{doc} {pointer}"
                );
            }
        }
    }

    #[test]
    fn copies_and_nesting_are_bounded() {
        // Regression (fuzzing): 40 copies of the whole document to new members asked for 2^40
        // values (an out-of-memory abort on a 2 KB patch).
        let bomb: Vec<PatchItem> = (0..40).map(|i| PatchItem::copy("", format!("/{i}"))).collect();
        let doc = json!({"metaData": {"n32fContextId": "0123456789ABCDEF", "messageId": "1"}});
        let (bomb_at, e) = apply(&mut doc.clone(), &bomb).unwrap_err();
        assert!(matches!(e, PatchError::TooLarge(_)), "{e}");
        assert_eq!(bomb_at, 14, "4 values doubled: 4 (2^15 - 1) > MAX_VALUES");
        // Nesting one level deeper per operation stops at MAX_DEPTH.
        let mut path = String::new();
        let deep: Vec<PatchItem> = (0..MAX_DEPTH + 10)
            .map(|_| {
                let item = PatchItem::add(format!("{path}/a"), json!({}));
                path.push_str("/a");
                item
            })
            .collect();
        let (at, e) = apply(&mut json!({}), &deep).unwrap_err();
        assert!(matches!(e, PatchError::TooLarge(_)), "{e}");
        assert_eq!(at, MAX_DEPTH - 1);
        // A few copies of a small document pass.
        let ok: Vec<PatchItem> = (0..4).map(|i| PatchItem::copy("", format!("/{i}"))).collect();
        let mut small = doc.clone();
        apply(&mut small, &ok).unwrap();
        assert_eq!(measure(&small).0, 16 * 4);
        // One operation at a time, a shared budget still stops the doubling.
        let mut budget = Budget::default();
        let mut doc = doc;
        let failed = bomb
            .iter()
            .position(|op| apply_within(&mut doc, std::slice::from_ref(op), &mut budget).is_err());
        assert_eq!(failed, Some(bomb_at));
    }

    #[test]
    fn pointer_escapes_roundtrip() {
        //= RFC 6901 5: examples
        let doc = json!({"foo": ["bar", "baz"], "": 0, "a/b": 1, "m~n": 8, " ": 7});
        assert_eq!(get(&doc, "").unwrap(), &doc);
        assert_eq!(get(&doc, "/foo/0").unwrap(), &json!("bar"));
        assert_eq!(get(&doc, "/").unwrap(), &json!(0));
        assert_eq!(get(&doc, "/a~1b").unwrap(), &json!(1));
        assert_eq!(get(&doc, "/m~0n").unwrap(), &json!(8));
        assert_eq!(get(&doc, "/ ").unwrap(), &json!(7));
        assert_eq!(format_pointer(&["a/b", "m~n"]), "/a~1b/m~0n");
        assert_eq!(parse_pointer("/a~1b/m~0n").unwrap(), vec!["a/b", "m~n"]);
        assert_eq!(parse_pointer("/~01").unwrap(), vec!["~1"]);
    }

    #[test]
    fn pointer_invalid_rejected() {
        assert!(matches!(parse_pointer("foo"), Err(PatchError::BadPointer(_))));
        assert!(matches!(parse_pointer("/a~2"), Err(PatchError::BadPointer(_))));
        assert!(matches!(parse_pointer("/a~"), Err(PatchError::BadPointer(_))));
        let doc = json!({"a": [1, 2]});
        assert!(matches!(get(&doc, "/a/01"), Err(PatchError::BadIndex(_))));
        assert!(matches!(get(&doc, "/a/2"), Err(PatchError::BadIndex(_))));
        assert!(matches!(get(&doc, "/a/-"), Err(PatchError::BadIndex(_))));
        assert!(matches!(get(&doc, "/b"), Err(PatchError::NotFound(_))));
    }

    #[test]
    fn patch_rfc6902_appendix_examples() {
        // A.1, A.2, A.3, A.4, A.6, A.7, A.16 of RFC 6902.
        assert_eq!(
            patched(json!({"foo": "bar"}), &[PatchItem::add("/baz", json!("qux"))]).unwrap(),
            json!({"foo": "bar", "baz": "qux"})
        );
        assert_eq!(
            patched(
                json!({"foo": ["bar", "baz"]}),
                &[PatchItem::add("/foo/1", json!("qux"))]
            )
            .unwrap(),
            json!({"foo": ["bar", "qux", "baz"]})
        );
        assert_eq!(
            patched(json!({"baz": "qux", "foo": "bar"}), &[PatchItem::remove("/baz")]).unwrap(),
            json!({"foo": "bar"})
        );
        assert_eq!(
            patched(json!({"foo": ["bar", "qux", "baz"]}), &[PatchItem::remove("/foo/1")]).unwrap(),
            json!({"foo": ["bar", "baz"]})
        );
        assert_eq!(
            patched(
                json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
                &[PatchItem::move_("/foo/waldo", "/qux/thud")]
            )
            .unwrap(),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
        );
        assert_eq!(
            patched(
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                &[PatchItem::move_("/foo/1", "/foo/3")]
            )
            .unwrap(),
            json!({"foo": ["all", "cows", "eat", "grass"]})
        );
        assert_eq!(
            patched(
                json!({"foo": ["bar"]}),
                &[PatchItem::add("/foo/-", json!(["abc", "def"]))]
            )
            .unwrap(),
            json!({"foo": ["bar", ["abc", "def"]]})
        );
        assert_eq!(
            patched(
                json!({"a": 1}),
                &[PatchItem::copy("/a", "/b"), PatchItem::replace("/a", json!(null))]
            )
            .unwrap(),
            json!({"a": null, "b": 1})
        );
        assert_eq!(
            patched(json!({"a": 1}), &[PatchItem::add("", json!([1]))]).unwrap(),
            json!([1])
        );
    }

    #[test]
    fn patch_failure_is_atomic() {
        let doc = json!({"a": 1, "b": [1]});
        let items = [
            PatchItem::replace("/a", json!(2)),
            PatchItem::test("/b/0", json!(2)), // A.9/A.14: test fails
        ];
        let mut work = doc.clone();
        assert_eq!(
            apply(&mut work, &items),
            Err((1, PatchError::TestFailed("/b/0".into())))
        );
        assert_eq!(work, doc);
        // A.12: adding to a nonexistent target.
        assert!(patched(doc.clone(), &[PatchItem::add("/baz/bat", json!("qux"))]).is_err());
        // replace needs an existing target; remove of root is refused.
        assert!(patched(doc.clone(), &[PatchItem::replace("/zz", json!(1))]).is_err());
        assert_eq!(
            patched(doc.clone(), &[PatchItem::remove("")]),
            Err(PatchError::RemoveRoot)
        );
        assert!(matches!(
            patched(json!({"a": {"b": 1}}), &[PatchItem::move_("/a", "/a/b/c")]),
            Err(PatchError::MoveIntoChild(_))
        ));
        let no_value = PatchItem {
            value: None,
            ..PatchItem::add("/x", json!(1))
        };
        assert_eq!(
            patched(doc, &[no_value]),
            Err(PatchError::MissingMember("add", "value"))
        );
    }

    #[test]
    fn patch_item_null_value_is_present() {
        let item: PatchItem = serde_json::from_str(r#"{"op":"add","path":"/a","value":null}"#).unwrap();
        assert_eq!(item.value, Some(Value::Null));
        let item: PatchItem = serde_json::from_str(r#"{"op":"remove","path":"/a"}"#).unwrap();
        assert_eq!(item.value, None);
        assert_eq!(
            serde_json::to_string(&PatchItem::move_("/a", "/b")).unwrap(),
            r#"{"op":"move","path":"/b","from":"/a"}"#
        );
    }
}
