//! The compute kernel of targets/README.md ("The compute kernel"):
//! `GET /compute/rank?seed=S&rounds=R&top=K` scores every active user of the
//! store with R rounds of xorshift32 and ranks them with a full sort.
//!
//! All arithmetic is on `u32`. Shifts on `u32` discard the bits shifted out
//! (they only panic for a shift count >= 32), so `x ^= x << 13` is already
//! mod 2^32; the one product and the checksum use `wrapping_mul` /
//! `wrapping_add`, which are mod 2^32 in debug builds too.

use std::borrow::Cow;

use serde::Serialize;

use crate::users::{Store, USER_COUNT};

pub const DEFAULT_ROUNDS: u32 = 64;
pub const DEFAULT_TOP: u32 = 10;
pub const MAX_ROUNDS: u32 = 1000;
pub const MAX_TOP: u32 = 100;
/// 0x9E3779B1, Knuth's multiplicative hash.
const GOLDEN: u32 = 2_654_435_761;
/// Replaces a zero start state, which xorshift never leaves.
const ZERO_STATE: u32 = 0x9E37_79B9;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub seed: u32,
    pub rounds: u32,
    pub top: u32,
}

impl Params {
    /// Reads seed (0..=2^32-1), rounds (1..=1000) and top (1..=100) from a
    /// raw query string, or names the first invalid one in that order.
    ///
    /// The query is read as Go's `url.ParseQuery` (the reference) reads it:
    /// pairs split on `&`, a pair containing `;` or a malformed `%` escape is
    /// dropped, keys and values are percent-decoded with `+` as a space, and
    /// the first value of a repeated key counts. A key that is present with
    /// an empty value (`seed=`, `seed`) is invalid; an absent one takes its
    /// default. A value must be ASCII digits only (no sign: `+5`, which is
    /// what `%2B5` decodes to, is invalid), leading zeros allowed.
    pub fn parse(query: &str) -> Result<Params, &'static str> {
        let mut values: [Option<Cow<'_, [u8]>>; 3] = [None, None, None];
        for pair in query.split('&') {
            if pair.is_empty() || pair.contains(';') {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match unescape(key).as_deref() {
                Some(b"seed") => 0,
                Some(b"rounds") => 1,
                Some(b"top") => 2,
                _ => continue,
            };
            if values[slot].is_none() {
                values[slot] = unescape(value);
            }
        }
        let [seed, rounds, top] = values;
        Ok(Params {
            seed: field(seed, 0, u32::MAX, 0).ok_or("seed")?,
            rounds: field(rounds, 1, MAX_ROUNDS, DEFAULT_ROUNDS).ok_or("rounds")?,
            top: field(top, 1, MAX_TOP, DEFAULT_TOP).ok_or("top")?,
        })
    }
}

/// The default when absent; otherwise a decimal integer in lo..=hi, or None.
/// gc.rs reads /gc/churn's parameters with it too.
pub(crate) fn field(value: Option<Cow<'_, [u8]>>, lo: u32, hi: u32, default: u32) -> Option<u32> {
    let Some(v) = value else {
        return Some(default);
    };
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v.iter() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
        if n > u64::from(hi) {
            return None;
        }
    }
    (n >= u64::from(lo)).then_some(n as u32)
}

/// Percent-decoding of a query component (`+` is a space); None for a `%`
/// not followed by two hex digits. Borrows when there is nothing to decode.
pub(crate) fn unescape(s: &str) -> Option<Cow<'_, [u8]>> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || c == b'+') {
        return Some(Cow::Borrowed(b));
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(Cow::Owned(out))
}

/// User `id`'s score: its start state, then `rounds` of xorshift32.
#[inline]
pub fn score(seed: u32, id: u32, rounds: u32) -> u32 {
    let mut x = seed ^ id.wrapping_mul(GOLDEN);
    if x == 0 {
        x = ZERO_STATE;
    }
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
    }
    x
}

/// One entry of the ranking; fields in the contract's key order.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    id: u32,
    score: u32,
}

/// The answer; field declaration order is serde's (and the contract's) key
/// order.
#[derive(Serialize)]
pub struct Ranking {
    seed: u32,
    rounds: u32,
    matched: usize,
    checksum: u32,
    top: Vec<Ranked>,
}

impl Ranking {
    /// Room for the whole answer: about 70 bytes of head and at most 34
    /// (`{"id":10000,"score":4294967295},`) per entry.
    pub fn json_capacity(&self) -> usize {
        96 + 34 * self.top.len()
    }
}

/// Scores every active user of the store, sums the scores mod 2^32, sorts
/// the whole list (score descending, ties to the lower id) with the standard
/// library's sort and keeps the first `top`.
pub fn rank(store: &Store, p: Params) -> Ranking {
    let mut all = Vec::with_capacity(USER_COUNT);
    let mut checksum: u32 = 0;
    for id in store.active_ids() {
        let score = score(p.seed, id, p.rounds);
        checksum = checksum.wrapping_add(score);
        all.push(Ranked { id, score });
    }
    let matched = all.len();
    // The ids are distinct, so the order is total and a stable sort would
    // give the same list.
    all.sort_unstable_by(|a, b| b.score.cmp(&a.score).then(a.id.cmp(&b.id)));
    all.truncate(p.top as usize);
    Ranking {
        seed: p.seed,
        rounds: p.rounds,
        matched,
        checksum,
        top: all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(store: &Store, query: &str) -> String {
        serde_json::to_string(&rank(store, Params::parse(query).unwrap())).unwrap()
    }

    /// The expected bodies were printed by the reference,
    /// `bin/harness contract compute SEED ROUNDS TOP` (harness/contract/compute.go).
    #[test]
    fn reference_answers() {
        let store = Store::generate();
        assert_eq!(
            answer(&store, "top=3"),
            r#"{"seed":0,"rounds":64,"matched":8572,"checksum":1938938613,"top":[{"id":6669,"score":4294378245},{"id":9616,"score":4294228778},{"id":751,"score":4293558100}]}"#
        );
        assert_eq!(answer(&store, "seed=12345&rounds=1&top=1"), REF_12345_1_1);
        assert_eq!(
            answer(&store, "seed=4294967295&rounds=1000&top=2"),
            REF_MAX_1000_2
        );
    }

    const REF_12345_1_1: &str = r#"{"seed":12345,"rounds":1,"matched":8572,"checksum":753785350,"top":[{"id":437,"score":4294186868}]}"#;
    const REF_MAX_1000_2: &str = r#"{"seed":4294967295,"rounds":1000,"matched":8572,"checksum":1102310794,"top":[{"id":7331,"score":4294494319},{"id":7348,"score":4294162614}]}"#;

    #[test]
    fn defaults_and_decoding() {
        let d = Params {
            seed: 0,
            rounds: DEFAULT_ROUNDS,
            top: DEFAULT_TOP,
        };
        assert_eq!(Params::parse(""), Ok(d));
        assert_eq!(Params::parse("other=x&&"), Ok(d));
        let p = |seed, rounds, top| Ok(Params { seed, rounds, top });
        assert_eq!(
            Params::parse("seed=4294967295&rounds=1000&top=100"),
            p(u32::MAX, 1000, 100)
        );
        assert_eq!(Params::parse("seed=007&rounds=01&top=001"), p(7, 1, 1));
        // percent-decoding of keys and values; the first of a repeated key
        assert_eq!(Params::parse("%73eed=%31&top=5&top=x"), p(1, 64, 5));
        // a pair with ';' or a bad escape is dropped, as by Go's ParseQuery
        assert_eq!(Params::parse("seed=x;y&rounds=%zz&top=%2"), Ok(d));
    }

    #[test]
    fn validation_order_and_rules() {
        for (query, field) in [
            ("rounds=0", "rounds"),
            ("rounds=1001", "rounds"),
            ("top=0", "top"),
            ("top=101", "top"),
            ("top=abc", "top"),
            ("seed=-1", "seed"),
            ("seed=4294967296", "seed"),
            ("seed=99999999999999999999999", "seed"),
            ("seed=", "seed"),
            ("seed", "seed"),
            ("rounds=+5", "rounds"),   // '+' decodes to a space
            ("rounds=%2B5", "rounds"), // a literal '+'
            ("seed=%2B5", "seed"),
            ("top=1.0", "top"),
            ("top=-0", "top"),
            ("top=0x10", "top"),
            ("top=x&rounds=x&seed=x", "seed"),
            ("top=x&rounds=x", "rounds"),
        ] {
            assert_eq!(Params::parse(query), Err(field), "{query:?}");
        }
    }

    #[test]
    fn zero_start_state() {
        // seed == id * GOLDEN mod 2^32 makes the start state zero.
        let seed = 7u32.wrapping_mul(GOLDEN);
        assert_eq!(score(seed, 7, 0), ZERO_STATE);
        assert_ne!(score(seed, 7, 1), 0);
    }
}
