//! `POST /orders/quote` (targets/README.md, "The quote").
//!
//! The body is decoded in one serde_json pass into a *tolerant* shape: every
//! field the contract knows is kept as "an integer", "a string" or "something
//! else / missing", so a wrong type never aborts decoding. Validation then
//! walks that shape in the contract's order and names the first bad field.
//! Only input that is not JSON at all is a decoding error (answered 400).
//! Unlike `serde_json::Value`, nothing is allocated per key, and a SKU
//! without escapes is borrowed straight from the request bytes.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};

const MAX_ITEMS: usize = 100;
const MAX_SKU_BYTES: usize = 64;
const MAX_QTY: i64 = 1000;
const MAX_PRICE_CENTS: i64 = 10_000_000;
const MAX_CUSTOMER_ID: i64 = 2_147_483_647;
/// 8.25 %, rounded half up in integer cents.
const TAX_BASIS_POINTS: i64 = 825;

/// A decoded order body; parse it with `serde_json::from_slice`.
pub enum Order<'a> {
    /// The body is JSON but not an object (the Go reference calls the field "body").
    NotObject,
    Object {
        customer_id: Scalar<'a>,
        items: Items<'a>,
    },
}

pub enum Items<'a> {
    /// Missing, or not an array.
    NotArray,
    Array(Vec<Item<'a>>),
}

pub enum Item<'a> {
    NotObject,
    Object {
        sku: Scalar<'a>,
        qty: Scalar<'a>,
        unit_price_cents: Scalar<'a>,
    },
}

/// One JSON value reduced to what validation needs.
#[derive(Default)]
pub enum Scalar<'a> {
    /// Missing, or a value of no interest (null, bool, array, object, fraction).
    #[default]
    Other,
    /// A number without a fractional part (`3`, `3.0`, `3e0`).
    Int(i64),
    Str(Cow<'a, str>),
}

impl Scalar<'_> {
    fn int_in(&self, lo: i64, hi: i64) -> Option<i64> {
        match *self {
            Scalar::Int(n) if (lo..=hi).contains(&n) => Some(n),
            _ => None,
        }
    }
}

#[derive(Serialize)]
pub struct Quote<'a> {
    customer_id: i64,
    currency: &'static str,
    lines: Vec<Line<'a>>,
    item_count: i64,
    subtotal_cents: i64,
    tax_cents: i64,
    total_cents: i64,
}

#[derive(Serialize)]
struct Line<'a> {
    sku: &'a str,
    qty: i64,
    /// Not part of the answer; kept for `POST /db/orders`, which stores it.
    #[serde(skip)]
    unit_price_cents: i64,
    line_total_cents: i64,
}

impl<'a> Quote<'a> {
    pub fn customer_id(&self) -> i64 {
        self.customer_id
    }

    /// The validated items, in order: (sku, qty, unit_price_cents).
    pub fn items(&self) -> impl ExactSizeIterator<Item = (&'a str, i64, i64)> + '_ {
        self.lines
            .iter()
            .map(|l| (l.sku, l.qty, l.unit_price_cents))
    }
}

/// Validates in the contract's order and prices a valid order; `Err` holds
/// the name of the first invalid field.
pub fn price<'a>(order: &'a Order<'_>) -> Result<Quote<'a>, Cow<'static, str>> {
    let Order::Object { customer_id, items } = order else {
        return Err("body".into());
    };
    let customer_id = customer_id
        .int_in(1, MAX_CUSTOMER_ID)
        .ok_or("customer_id")?;
    let items = match items {
        Items::Array(items) if (1..=MAX_ITEMS).contains(&items.len()) => items,
        _ => return Err("items".into()),
    };
    let mut quote = Quote {
        customer_id,
        currency: "USD",
        lines: Vec::with_capacity(items.len()),
        item_count: 0,
        subtotal_cents: 0,
        tax_cents: 0,
        total_cents: 0,
    };
    for (i, item) in items.iter().enumerate() {
        let Item::Object {
            sku,
            qty,
            unit_price_cents,
        } = item
        else {
            return Err(format!("items[{i}]").into());
        };
        let sku = match sku {
            Scalar::Str(s) if (1..=MAX_SKU_BYTES).contains(&s.len()) => s.as_ref(),
            _ => return Err(format!("items[{i}].sku").into()),
        };
        let qty = qty
            .int_in(1, MAX_QTY)
            .ok_or_else(|| format!("items[{i}].qty"))?;
        let unit = unit_price_cents
            .int_in(0, MAX_PRICE_CENTS)
            .ok_or_else(|| format!("items[{i}].unit_price_cents"))?;
        let line_total_cents = qty * unit;
        quote.lines.push(Line {
            sku,
            qty,
            unit_price_cents: unit,
            line_total_cents,
        });
        quote.item_count += qty;
        quote.subtotal_cents += line_total_cents;
    }
    quote.tax_cents = (quote.subtotal_cents * TAX_BASIS_POINTS + 5000) / 10_000;
    quote.total_cents = quote.subtotal_cents + quote.tax_cents;
    Ok(quote)
}

// ---------------------------------------------------------------------------
// Tolerant deserialisation. Each visitor accepts every JSON type; the ones it
// does not want are skipped (IgnoredAny) and recorded as "wrong type".

/// Object keys the contract knows; any other key is skipped.
enum Key {
    CustomerId,
    Items,
    Sku,
    Qty,
    UnitPriceCents,
    Unknown,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "customer_id" => Key::CustomerId,
                    "items" => Key::Items,
                    "sku" => Key::Sku,
                    "qty" => Key::Qty,
                    "unit_price_cents" => Key::UnitPriceCents,
                    _ => Key::Unknown,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Skips an array's elements.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Skips an object's entries.
fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visitor methods of every JSON type a visitor does not want,
/// answering `$wrong` for each.
macro_rules! wrong_types {
    ($wrong:expr; $($skip:ident),*) => {
        $(wrong_types!(@one $skip, $wrong);)*
    };
    (@one bool, $wrong:expr) => {
        fn visit_bool<E: Error>(self, _: bool) -> Result<Self::Value, E> { Ok($wrong) }
    };
    (@one unit, $wrong:expr) => {
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> { Ok($wrong) }
    };
    (@one num, $wrong:expr) => {
        fn visit_i64<E: Error>(self, _: i64) -> Result<Self::Value, E> { Ok($wrong) }
        fn visit_u64<E: Error>(self, _: u64) -> Result<Self::Value, E> { Ok($wrong) }
        fn visit_f64<E: Error>(self, _: f64) -> Result<Self::Value, E> { Ok($wrong) }
    };
    (@one str, $wrong:expr) => {
        fn visit_str<E: Error>(self, _: &str) -> Result<Self::Value, E> { Ok($wrong) }
    };
    (@one seq, $wrong:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq).map(|()| $wrong)
        }
    };
    (@one map, $wrong:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map).map(|()| $wrong)
        }
    };
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(Scalar::Other, Scalar::Int))
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
                // An integral float (1.0, 1e3) is an integer, as in the Go
                // reference. Beyond 2^53 no contract range applies anyway.
                Ok(if v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0 {
                    Scalar::Int(v as i64)
                } else {
                    Scalar::Other
                })
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            wrong_types!(Scalar::Other; bool, unit, seq, map);
        }
        d.deserialize_any(ScalarVisitor)
    }
}

impl<'de> Deserialize<'de> for Item<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut sku, mut qty, mut unit_price_cents) = Default::default();
                // A repeated key keeps its last value, like Go's map decoding.
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Sku => sku = map.next_value()?,
                        Key::Qty => qty = map.next_value()?,
                        Key::UnitPriceCents => unit_price_cents = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Item::Object {
                    sku,
                    qty,
                    unit_price_cents,
                })
            }
            wrong_types!(Item::NotObject; bool, unit, num, str, seq);
        }
        d.deserialize_any(ItemVisitor)
    }
}

impl<'de> Deserialize<'de> for Items<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;
        impl<'de> Visitor<'de> for ItemsVisitor {
            type Value = Items<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Items::Array(items))
            }
            wrong_types!(Items::NotArray; bool, unit, num, str, map);
        }
        d.deserialize_any(ItemsVisitor)
    }
}

impl<'de> Deserialize<'de> for Order<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OrderVisitor;
        impl<'de> Visitor<'de> for OrderVisitor {
            type Value = Order<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut customer_id = Scalar::Other;
                let mut items = Items::NotArray;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::CustomerId => customer_id = map.next_value()?,
                        Key::Items => items = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Order::Object { customer_id, items })
            }
            wrong_types!(Order::NotObject; bool, unit, num, str, seq);
        }
        d.deserialize_any(OrderVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str) -> Result<String, String> {
        let order: Order = serde_json::from_str(body).map_err(|_| "invalid json".to_string())?;
        price(&order)
            .map(|q| serde_json::to_string(&q).unwrap())
            .map_err(|f| f.into_owned())
    }

    #[test]
    fn readme_example() {
        assert_eq!(
            run(r#"{"customer_id":1002,"items":[{"sku":"SKU-3003","qty":1,"unit_price_cents":273},{"sku":"SKU-4004","qty":3,"unit_price_cents":1273}]}"#).unwrap(),
            r#"{"customer_id":1002,"currency":"USD","lines":[{"sku":"SKU-3003","qty":1,"line_total_cents":273},{"sku":"SKU-4004","qty":3,"line_total_cents":3819}],"item_count":4,"subtotal_cents":4092,"tax_cents":338,"total_cents":4430}"#
        );
    }

    #[test]
    fn tolerant_numbers_and_keys() {
        let q = run(r#"{"x":[1,{"a":null}],"customer_id":7.0,"items":[{"qty":1e0,"sku":"A\u0042","unit_price_cents":-0,"extra":{}}]}"#).unwrap();
        assert_eq!(
            q,
            r#"{"customer_id":7,"currency":"USD","lines":[{"sku":"AB","qty":1,"line_total_cents":0}],"item_count":1,"subtotal_cents":0,"tax_cents":0,"total_cents":0}"#
        );
        // The last of repeated keys wins.
        assert!(run(r#"{"customer_id":0,"customer_id":1,"items":[{"sku":"A","qty":1,"unit_price_cents":1}]}"#).is_ok());
    }

    #[test]
    fn field_order() {
        let item = r#"{"sku":"A","qty":1,"unit_price_cents":100}"#;
        let cases = [
            (r#"[1]"#.to_string(), "body"),
            ("null".to_string(), "body"),
            (format!(r#"{{"items":[{item}]}}"#), "customer_id"),
            (
                format!(r#"{{"customer_id":"7","items":[{item}]}}"#),
                "customer_id",
            ),
            (
                format!(r#"{{"customer_id":2147483648,"items":[{item}]}}"#),
                "customer_id",
            ),
            (
                format!(r#"{{"customer_id":1.5,"items":[{item}]}}"#),
                "customer_id",
            ),
            (r#"{"customer_id":7}"#.to_string(), "items"),
            (r#"{"customer_id":7,"items":[]}"#.to_string(), "items"),
            (r#"{"customer_id":7,"items":{}}"#.to_string(), "items"),
            (
                format!(
                    r#"{{"customer_id":7,"items":[{}]}}"#,
                    vec![item; 101].join(",")
                ),
                "items",
            ),
            (r#"{"customer_id":7,"items":[5]}"#.to_string(), "items[0]"),
            (
                r#"{"customer_id":7,"items":[{"sku":"","qty":1,"unit_price_cents":100}]}"#
                    .to_string(),
                "items[0].sku",
            ),
            (
                format!(
                    r#"{{"customer_id":7,"items":[{{"sku":"{}","qty":1,"unit_price_cents":1}}]}}"#,
                    "é".repeat(33)
                ),
                "items[0].sku",
            ),
            (
                format!(
                    r#"{{"customer_id":7,"items":[{item},{{"sku":"B","qty":0,"unit_price_cents":100}}]}}"#
                ),
                "items[1].qty",
            ),
            (
                r#"{"customer_id":7,"items":[{"sku":"A","qty":1.5,"unit_price_cents":100}]}"#
                    .to_string(),
                "items[0].qty",
            ),
            (
                r#"{"customer_id":7,"items":[{"sku":"A","qty":1001,"unit_price_cents":100}]}"#
                    .to_string(),
                "items[0].qty",
            ),
            (
                r#"{"customer_id":7,"items":[{"sku":"A","qty":2,"unit_price_cents":-1}]}"#
                    .to_string(),
                "items[0].unit_price_cents",
            ),
            (
                r#"{"customer_id":7,"items":[{"sku":"A","qty":2,"unit_price_cents":10000001}]}"#
                    .to_string(),
                "items[0].unit_price_cents",
            ),
            (
                r#"{"customer_id":7,"items":[{"sku":"A","qty":2}]}"#.to_string(),
                "items[0].unit_price_cents",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(run(&body).unwrap_err(), field, "{body}");
        }
        let ok = format!(
            r#"{{"customer_id":2147483647,"items":[{}]}}"#,
            vec![item; 100].join(",")
        );
        assert!(run(&ok).is_ok());
        assert!(
            run(&format!(
                r#"{{"customer_id":7,"items":[{{"sku":"{}","qty":1,"unit_price_cents":1}}]}}"#,
                "x".repeat(64)
            ))
            .is_ok()
        );
    }

    #[test]
    fn not_json() {
        for body in [
            "",
            " ",
            r#"{"customer_id":"#,
            "{'a':1}",
            r#"{"a":1}x"#,
            "[1,]",
            r#"{"customer_id":1e400}"#,
        ] {
            assert_eq!(run(body).unwrap_err(), "invalid json", "{body:?}");
        }
    }
}
