//! The GC load of targets/README.md ("The GC load"): the live heap,
//! `GET /gc/churn?seed=S&n=N` and `GET /gc/stats`.
//!
//! Rust has no collector, so the load is the same work with nothing to
//! collect: the live heap is boxed records the allocator holds, and a churn
//! answer's items are freed when the response is built. `/gc/stats` says so
//! with nulls.

use std::borrow::Cow;

use serde::Serialize;

use crate::compute::{field, unescape};

pub const DEFAULT_N: u32 = 100;
pub const MAX_N: u32 = 10_000;
const KEY_MODULUS: u64 = 1_000_003;
const SCORE_MODULUS: u32 = 1000;

/// Record `k` of the live heap. Nothing reads the fields: they exist to be
/// held, as in the other targets' heaps.
#[allow(dead_code)]
pub struct LiveRecord {
    id: u64,
    name: String,
    tags: Vec<String>,
}

/// One allocation per record, each with its own strings, as the contract
/// asks of every language.
pub struct LiveHeap(Vec<Box<LiveRecord>>);

impl LiveHeap {
    pub fn build(n: usize) -> LiveHeap {
        LiveHeap(
            (0..n as u64)
                .map(|k| {
                    Box::new(LiveRecord {
                        id: k,
                        name: format!("live-{k}"),
                        tags: vec![format!("a{}", k % 10), format!("b{}", k % 100)],
                    })
                })
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub seed: u32,
    pub n: u32,
}

impl Params {
    /// Reads seed (0..=2^32-1) then n (1..=10000) from a raw query string as
    /// `compute::Params::parse` reads its parameters, or names the first
    /// invalid one.
    pub fn parse(query: &str) -> Result<Params, &'static str> {
        let mut values: [Option<Cow<'_, [u8]>>; 2] = [None, None];
        for pair in query.split('&') {
            if pair.is_empty() || pair.contains(';') {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match unescape(key).as_deref() {
                Some(b"seed") => 0,
                Some(b"n") => 1,
                _ => continue,
            };
            if values[slot].is_none() {
                values[slot] = unescape(value);
            }
        }
        let [seed, n] = values;
        Ok(Params {
            seed: field(seed, 0, u32::MAX, 0).ok_or("seed")?,
            n: field(n, 1, MAX_N, DEFAULT_N).ok_or("n")?,
        })
    }
}

/// One item; field declaration order is serde's (and the contract's) key
/// order.
#[derive(Serialize)]
pub struct Item {
    id: u32,
    key: String,
    score: u32,
    tags: Vec<String>,
}

#[derive(Serialize)]
pub struct Churn {
    seed: u32,
    n: u32,
    items: Vec<Item>,
}

impl Churn {
    /// Room for the whole answer: at most 60 bytes per item
    /// (`{"id":9999,"key":"k1000002","score":999,"tags":["t4","u6"]},`).
    pub fn json_capacity(&self) -> usize {
        48 + 60 * self.items.len()
    }
}

/// Builds the n items as structs, each with its own strings.
pub fn churn(p: Params) -> Churn {
    let items = (0..p.n)
        .map(|j| Item {
            id: j,
            key: format!("k{}", (u64::from(p.seed) + u64::from(j)) % KEY_MODULUS),
            score: (p.seed % SCORE_MODULUS + 7 * j) % SCORE_MODULUS,
            tags: vec![format!("t{}", j % 5), format!("u{}", j % 7)],
        })
        .collect();
    Churn {
        seed: p.seed,
        n: p.n,
        items,
    }
}

/// `GET /gc/stats`: only the record count is Rust's; every collector figure
/// is `None`, serialised as null.
#[derive(Serialize)]
pub struct Stats {
    runtime: &'static str,
    live_objects: usize,
    collections: Option<u64>,
    pauses: Option<u64>,
    pause_p50_ms: Option<f64>,
    pause_p99_ms: Option<f64>,
    pause_max_ms: Option<f64>,
    largest_process_gc_ms: Option<f64>,
    long_gcs: Option<u64>,
}

pub fn stats(heap: &LiveHeap) -> Stats {
    Stats {
        runtime: "rust",
        live_objects: heap.len(),
        collections: None,
        pauses: None,
        pause_p50_ms: None,
        pause_p99_ms: None,
        pause_max_ms: None,
        largest_process_gc_ms: None,
        long_gcs: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(query: &str) -> String {
        serde_json::to_string(&churn(Params::parse(query).unwrap())).unwrap()
    }

    /// The expected bodies were printed by the reference,
    /// `bin/harness contract churn SEED N` (harness/contract/gc.go); 999999
    /// wraps both the key and the score.
    #[test]
    fn reference_answers() {
        assert_eq!(
            answer("seed=5&n=2"),
            r#"{"seed":5,"n":2,"items":[{"id":0,"key":"k5","score":5,"tags":["t0","u0"]},{"id":1,"key":"k6","score":12,"tags":["t1","u1"]}]}"#
        );
        assert_eq!(
            answer("n=8&seed=999999"),
            r#"{"seed":999999,"n":8,"items":[{"id":0,"key":"k999999","score":999,"tags":["t0","u0"]},{"id":1,"key":"k1000000","score":6,"tags":["t1","u1"]},{"id":2,"key":"k1000001","score":13,"tags":["t2","u2"]},{"id":3,"key":"k1000002","score":20,"tags":["t3","u3"]},{"id":4,"key":"k0","score":27,"tags":["t4","u4"]},{"id":5,"key":"k1","score":34,"tags":["t0","u5"]},{"id":6,"key":"k2","score":41,"tags":["t1","u6"]},{"id":7,"key":"k3","score":48,"tags":["t2","u0"]}]}"#
        );
        assert_eq!(
            answer("seed=4294967295&n=3"),
            r#"{"seed":4294967295,"n":3,"items":[{"id":0,"key":"k954413","score":295,"tags":["t0","u0"]},{"id":1,"key":"k954414","score":302,"tags":["t1","u1"]},{"id":2,"key":"k954415","score":309,"tags":["t2","u2"]}]}"#
        );
        assert_eq!(
            Params::parse(""),
            Ok(Params {
                seed: 0,
                n: DEFAULT_N
            })
        );
    }

    #[test]
    fn validation_order_and_rules() {
        for (query, field) in [
            ("seed=-1", "seed"),
            ("seed=4294967296", "seed"),
            ("seed=", "seed"),
            ("seed=x&n=0", "seed"),
            ("n=0", "n"),
            ("n=10001", "n"),
            ("n=%2B5", "n"),
            ("n=", "n"),
        ] {
            assert_eq!(Params::parse(query), Err(field), "{query:?}");
        }
    }

    #[test]
    fn stats_shape() {
        let heap = LiveHeap::build(3);
        assert_eq!(
            serde_json::to_string(&stats(&heap)).unwrap(),
            r#"{"runtime":"rust","live_objects":3,"collections":null,"pauses":null,"pause_p50_ms":null,"pause_p99_ms":null,"pause_max_ms":null,"largest_process_gc_ms":null,"long_gcs":null}"#
        );
    }
}
