//! Reads typed items straight out of DynamoDB's JSON.
//!
//! DynamoDB's JSON protocol wraps every attribute in its type:
//! `{"pk": {"S": "MSG#..."}, "expires_at": {"N": "1700000000"}}`. The usual
//! way to read one, serde_json into a `serde_dynamo::Item` and then
//! `serde_dynamo::from_item`, builds a hash map of owned strings per item
//! only to take it apart again; for a page of 20 messages that was most of a
//! list call's CPU. [`Item`] instead wraps any serde [`Deserializer`] that is
//! at such an item and presents the plain shape to the target type, unwrapping
//! each `{"TYPE": value}` as it streams past: `S` and `BOOL` pass through, `N`
//! is parsed as a number, `NULL` is a unit (`None` for options), `M` is a map
//! of the same kind, `L` a list, `SS`/`NS` lists of strings or numbers. Binary
//! values (`B`, `BS`), which this crate never writes, arrive as their base64
//! text.
//!
//! It reads what `serde_dynamo::to_item` writes into the same values as
//! `serde_dynamo::from_item` would (a property test in `record.rs` checks this
//! for every kind of record).

use std::{borrow::Cow, fmt};

use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};

/// A deserializer at a DynamoDB JSON item (or `M` value): a map whose values
/// are typed attribute values.
pub(crate) struct Item<D>(pub(crate) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Item<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Wrap(visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Hands the target's visitor a map whose values are unwrapped.
struct Wrap<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB item: a map of typed attribute values")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Attributes(map))
    }
}

/// An item's attributes: names as they are, values unwrapped.
struct Attributes<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Attributes<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(Typed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// A list's elements: each a typed value, unwrapped (`Typed`) or not (the
/// strings of `SS` and `NS`, which carry no type of their own).
struct Elements<A, const TYPED: bool, const NUMBERS: bool>(A);

impl<'de, A: SeqAccess<'de>, const TYPED: bool, const NUMBERS: bool> SeqAccess<'de>
    for Elements<A, TYPED, NUMBERS>
{
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        match (TYPED, NUMBERS) {
            (true, _) => self.0.next_element_seed(Typed(seed)),
            (false, true) => self.0.next_element_seed(Number(seed)),
            (false, false) => self.0.next_element_seed(seed),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// The type tags of DynamoDB's attribute values.
#[derive(serde::Deserialize)]
enum Tag {
    S,
    N,
    #[serde(rename = "BOOL")]
    Bool,
    #[serde(rename = "NULL")]
    Null,
    M,
    L,
    #[serde(rename = "SS")]
    StringSet,
    #[serde(rename = "NS")]
    NumberSet,
    B,
    #[serde(rename = "BS")]
    BinarySet,
}

/// One typed attribute value, `{"TYPE": value}`, given to `S` unwrapped.
struct Typed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Typed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Typed<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a typed attribute value such as {"S": "..."}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Value, A::Error> {
        let tag: Tag = map
            .next_key()?
            .ok_or_else(|| de::Error::custom("an attribute value without a type"))?;
        let value = match tag {
            Tag::S | Tag::Bool => map.next_value_seed(self.0)?,
            Tag::N => map.next_value_seed(Number(self.0))?,
            Tag::Null => {
                map.next_value::<IgnoredAny>()?;
                self.0.deserialize(Null(std::marker::PhantomData))?
            }
            Tag::M => map.next_value_seed(Nested(self.0))?,
            Tag::L => map.next_value_seed(List::<S, true, false>(self.0))?,
            Tag::StringSet => map.next_value_seed(List::<S, false, false>(self.0))?,
            Tag::NumberSet => map.next_value_seed(List::<S, false, true>(self.0))?,
            // This crate writes no binary values; they arrive as base64 text.
            Tag::B => map.next_value_seed(self.0)?,
            Tag::BinarySet => map.next_value_seed(List::<S, false, false>(self.0))?,
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("an attribute value with two types"));
        }
        Ok(value)
    }
}

/// An `M` value: an item of its own.
struct Nested<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nested<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Item(deserializer))
    }
}

/// An `L`, `SS` or `NS` value.
struct List<S, const TYPED: bool, const NUMBERS: bool>(S);

impl<'de, S: DeserializeSeed<'de>, const TYPED: bool, const NUMBERS: bool> DeserializeSeed<'de>
    for List<S, TYPED, NUMBERS>
{
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0
            .deserialize(ListDe::<D, TYPED, NUMBERS>(deserializer))
    }
}

struct ListDe<D, const TYPED: bool, const NUMBERS: bool>(D);

impl<'de, D: Deserializer<'de>, const TYPED: bool, const NUMBERS: bool> Deserializer<'de>
    for ListDe<D, TYPED, NUMBERS>
{
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_seq(ListVisitor::<V, TYPED, NUMBERS>(visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct ListVisitor<V, const TYPED: bool, const NUMBERS: bool>(V);

impl<'de, V: Visitor<'de>, const TYPED: bool, const NUMBERS: bool> Visitor<'de>
    for ListVisitor<V, TYPED, NUMBERS>
{
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of attribute values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Elements::<A, TYPED, NUMBERS>(seq))
    }
}

/// An `N` value: a number written as a string.
struct Number<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Number<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(deserializer)?;
        let text = text.as_ref();
        if let Ok(n) = text.parse::<i64>() {
            self.0
                .deserialize(IntoDeserializer::<D::Error>::into_deserializer(n))
        } else if let Ok(n) = text.parse::<u64>() {
            self.0
                .deserialize(IntoDeserializer::<D::Error>::into_deserializer(n))
        } else if let Ok(n) = text.parse::<f64>() {
            self.0
                .deserialize(IntoDeserializer::<D::Error>::into_deserializer(n))
        } else {
            Err(de::Error::custom(format!("{text:?} is not a number")))
        }
    }
}

/// A `NULL` value: a unit, or `None` where an option is expected.
struct Null<E>(std::marker::PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for Null<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Reads `T` from one item's DynamoDB JSON.
pub(crate) fn from_str<'de, T: serde::Deserialize<'de>>(json: &'de str) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = T::deserialize(Item(&mut deserializer))?;
    deserializer.end()?;
    Ok(value)
}

/// Only the `pk` and `sk` strings of one item's DynamoDB JSON (empty when
/// missing), the other attributes skipped without being read.
pub(crate) fn keys(json: &str) -> serde_json::Result<(Cow<'_, str>, Cow<'_, str>)> {
    struct Keys;

    impl<'de> Visitor<'de> for Keys {
        type Value = (Cow<'de, str>, Cow<'de, str>);

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a DynamoDB item")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            #[derive(serde::Deserialize)]
            struct Text<'a> {
                #[serde(borrow, rename = "S")]
                s: Cow<'a, str>,
            }
            let (mut pk, mut sk) = (Cow::Borrowed(""), Cow::Borrowed(""));
            while let Some(name) = map.next_key::<Name>()? {
                match name {
                    Name::Pk => pk = map.next_value::<Text<'de>>()?.s,
                    Name::Sk => sk = map.next_value::<Text<'de>>()?.s,
                    Name::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok((pk, sk))
        }
    }

    /// An attribute name, read without copying it.
    enum Name {
        Pk,
        Sk,
        Other,
    }

    impl<'de> serde::Deserialize<'de> for Name {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct NameVisitor;
            impl Visitor<'_> for NameVisitor {
                type Value = Name;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an attribute name")
                }
                fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
                    Ok(match name {
                        "pk" => Name::Pk,
                        "sk" => Name::Sk,
                        _ => Name::Other,
                    })
                }
            }
            deserializer.deserialize_str(NameVisitor)
        }
    }

    let mut deserializer = serde_json::Deserializer::from_str(json);
    let keys = deserializer.deserialize_map(Keys)?;
    deserializer.end()?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::Deserialize;

    use super::from_str;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Everything {
        text: String,
        count: i64,
        big: u64,
        ratio: f64,
        flag: bool,
        #[serde(default)]
        absent: Option<String>,
        nothing: Option<String>,
        unit: (),
        list: Vec<Inner>,
        map: BTreeMap<String, i32>,
        strings: BTreeSet<String>,
        numbers: Vec<u16>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        name: String,
    }

    #[test]
    fn every_type_this_crate_reads_is_unwrapped() {
        let json = r#"{
            "text": {"S": "héllo \"quoted\""},
            "count": {"N": "-42"},
            "big": {"N": "18446744073709551615"},
            "ratio": {"N": "0.5"},
            "flag": {"BOOL": true},
            "nothing": {"NULL": true},
            "unit": {"NULL": true},
            "list": {"L": [{"M": {"name": {"S": "a"}}}, {"M": {"name": {"S": "b"}}}]},
            "map": {"M": {"x": {"N": "1"}, "y": {"N": "2"}}},
            "strings": {"SS": ["b", "a"]},
            "numbers": {"NS": ["3", "7"]},
            "inner": {"M": {"name": {"S": "c"}}},
            "ignored": {"L": [{"S": "not a field"}, {"B": "AAE="}]}
        }"#;
        let value: Everything = from_str(json).expect("a valid item");
        assert_eq!(
            value,
            Everything {
                text: "héllo \"quoted\"".into(),
                count: -42,
                big: u64::MAX,
                ratio: 0.5,
                flag: true,
                absent: None,
                nothing: None,
                unit: (),
                list: vec![Inner { name: "a".into() }, Inner { name: "b".into() }],
                map: BTreeMap::from([("x".into(), 1), ("y".into(), 2)]),
                strings: BTreeSet::from(["a".into(), "b".into()]),
                numbers: vec![3, 7],
                inner: Some(Inner { name: "c".into() }),
            }
        );
    }

    #[test]
    fn keys_are_found_wherever_they_stand() {
        let json = r#"{"message": {"S": "hi"}, "sk": {"S": "2023\u002d03"}, "n": {"N": "1"}, "pk": {"S": "MSG#a"}}"#;
        let (pk, sk) = super::keys(json).expect("a valid item");
        assert_eq!((pk.as_ref(), sk.as_ref()), ("MSG#a", "2023-03"));
        let (pk, sk) = super::keys(r#"{"message": {"S": "hi"}}"#).expect("a valid item");
        assert_eq!((pk.as_ref(), sk.as_ref()), ("", ""));
        for broken in [
            r#"{"pk": {"N": "1"}}"#,
            r#"{"pk": "MSG#a"}"#,
            "[]",
            r#"{"pk": {"S": "a"}"#,
        ] {
            assert!(super::keys(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn malformed_values_are_errors() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct One {
            v: i64,
        }
        for (json, expected) in [
            (r#"{"v": {"S": "12"}}"#, "invalid type"),
            (r#"{"v": {"N": "twelve"}}"#, "not a number"),
            (r#"{"v": {"N": "12", "S": "12"}}"#, "two types"),
            (r#"{"v": {}}"#, "without a type"),
            (r#"{"v": {"X": "12"}}"#, "unknown variant"),
            (r#"{"v": {"B": "AAE="}}"#, "invalid type"),
            (r#"{"v": 12}"#, "invalid type"),
            (r#"{"v": {"N": "12"}} trailing"#, "trailing"),
            (r#"{}"#, "missing field"),
        ] {
            let error = from_str::<One>(json).expect_err(json).to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }
}
