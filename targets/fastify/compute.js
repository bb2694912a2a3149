// GET /compute/rank: the compute kernel of targets/README.md. Every active
// user of the store gets a score from xorshift32, then all of them are sorted
// and the first `top` are answered.
//
// 32-bit arithmetic in JavaScript: the bitwise operators work on 32-bit
// integers (ToInt32), so inside the loop x is the int32 with the same bits as
// the contract's uint32. `<<` drops the bits above 32 as the contract's mod
// 2^32 does, `>>>` is the logical (unsigned) right shift, `^` is XOR on the
// bits; `>>> 0` turns the final bits into the unsigned number the answer
// shows. Keeping x an int32 lets V8 keep it a small integer in a register.

const DEFAULT_ROUNDS = 64
const DEFAULT_TOP = 10
const MAX_SEED = 4294967295
const MAX_ROUNDS = 1000
const MAX_TOP = 100
const GOLDEN = 2654435761 // 0x9E3779B1: Knuth's multiplicative hash
const ZERO_SEED = 2654435769 // 0x9E3779B9: replaces a zero state, which xorshift cannot leave

const DECIMAL = /^[0-9]+$/

// param reads one query parameter: the default when absent, the number when
// it is a decimal integer in lo..hi, otherwise -1. A repeated parameter
// counts by its first value (as Go's url.Values.Get). The regex keeps out an
// empty value, a sign ("+5"; a literal "+" arrives as a space), "0x10",
// "1e3" and spaces; leading zeros are allowed, as strconv allows them. A long
// digit string may round in Number() but only far above hi. gc.js reads
// /gc/churn's parameters with it too.
export function param (raw, lo, hi, fallback) {
  if (raw === undefined) return fallback
  const v = typeof raw === 'string' ? raw : raw[0]
  if (!DECIMAL.test(v)) return -1
  const n = Number(v)
  return n >= lo && n <= hi ? n : -1
}

// parseParams returns { seed, rounds, top }, or { field } naming the first
// invalid parameter in the contract's order: seed, rounds, top.
export function parseParams (query) {
  const seed = param(query.seed, 0, MAX_SEED, 0)
  if (seed < 0) return { field: 'seed' }
  const rounds = param(query.rounds, 1, MAX_ROUNDS, DEFAULT_ROUNDS)
  if (rounds < 0) return { field: 'rounds' }
  const top = param(query.top, 1, MAX_TOP, DEFAULT_TOP)
  if (top < 0) return { field: 'top' }
  return { seed, rounds, top }
}

// score is user id's score: the start state, then `rounds` of xorshift32.
// id * GOLDEN is below 2^45 for the store's ids, exact in a double, so `%`
// gives the product mod 2^32 (Math.imul(id, GOLDEN) >>> 0 is the same).
export function score (seed, id, rounds) {
  let x = seed ^ (id * GOLDEN % 4294967296)
  if (x === 0) x = ZERO_SEED | 0
  for (let r = 0; r < rounds; r++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
  }
  return x >>> 0
}

// Highest score first, ties to the lower id.
function byScoreThenId (a, b) {
  if (a.score !== b.score) return a.score > b.score ? -1 : 1
  return a.id - b.id
}

// compute runs the kernel over the store's active users (users[id] for id in
// 1..users.length-1). Keys of the answer in contract order; the response
// schema serialises them in that order.
export function compute (users, { seed, rounds, top }) {
  const all = []
  let checksum = 0
  for (let id = 1; id < users.length; id++) {
    if (!users[id].active) continue
    const s = score(seed, id, rounds)
    checksum = (checksum + s) >>> 0
    all.push({ id, score: s })
  }
  // The whole list, with the language's standard sort (the same algorithm
  // in every target; no partial selection).
  all.sort(byScoreThenId)
  return {
    seed,
    rounds,
    matched: all.length,
    checksum,
    top: all.slice(0, top)
  }
}
