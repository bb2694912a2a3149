// The GC load of targets/README.md ("The GC load"): the live heap, GET
// /gc/churn's many small objects per request, and GET /gc/stats with what V8
// itself reports of its collections (perf_hooks 'gc' entries).

import { PerformanceObserver, performance } from 'node:perf_hooks'
import { param } from './compute.js'

const DEFAULT_N = 100
const MAX_N = 10000
const MAX_SEED = 4294967295
const KEY_MODULUS = 1000003
const SCORE_MODULUS = 1000
// Durations kept for the percentiles: the newest million, so a long run
// cannot grow the array without bound (8 MB at most).
const MAX_DURATIONS = 1_000_000

// buildLiveHeap returns n plain objects. push, not new Array(n): V8 gives a
// large preallocated array dictionary elements, which is not the ordinary
// array this heap stands for. The template literals build every string at
// run time, so no two records share one.
export function buildLiveHeap (n) {
  const heap = []
  for (let k = 0; k < n; k++) {
    heap.push({ id: k, name: `live-${k}`, tags: [`a${k % 10}`, `b${k % 100}`] })
  }
  return heap
}

// parseChurnParams returns { seed, n }, or { field } naming the first invalid
// parameter: seed, then n (compute.js's rules for a parameter).
export function parseChurnParams (query) {
  const seed = param(query.seed, 0, MAX_SEED, 0)
  if (seed < 0) return { field: 'seed' }
  const n = param(query.n, 1, MAX_N, DEFAULT_N)
  if (n < 0) return { field: 'n' }
  return { seed, n }
}

// churn builds the n items as fresh objects; the response schema serialises
// them. seed + j stays below 2^33, exact in a double.
export function churn ({ seed, n }) {
  const items = []
  const base = seed % SCORE_MODULUS
  for (let j = 0; j < n; j++) {
    items.push({
      id: j,
      key: `k${(seed + j) % KEY_MODULUS}`,
      score: (base + 7 * j) % SCORE_MODULUS,
      tags: [`t${j % 5}`, `u${j % 7}`]
    })
  }
  return { seed, n, items }
}

// The nearest-rank percentile (the ceil(pct/100*count)-th smallest) of
// sorted. count*pct is an exact integer, so the only rounding is the ceil's.
function nearestRank (sorted, pct) {
  return sorted[Math.ceil(sorted.length * pct / 100) - 1]
}

// gcWindow holds the live heap (the app reaches it through this object for
// as long as it runs) and the 'gc' entries since the last reset. The
// observer is called asynchronously, in batches; an entry that started
// before the reset but arrives after it is not counted.
export function gcWindow (heap) {
  let since = performance.now()
  let collections = 0
  let durations = []
  let next = 0 // where the oldest duration is overwritten once the array is full

  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.startTime < since) continue
      collections++
      if (durations.length < MAX_DURATIONS) {
        durations.push(entry.duration)
      } else {
        durations[next] = entry.duration
        next = (next + 1) % MAX_DURATIONS
      }
    }
  })
  observer.observe({ entryTypes: ['gc'] })

  return {
    heap,
    stats () {
      const sorted = Float64Array.from(durations).sort()
      const some = sorted.length > 0
      return {
        runtime: 'node',
        live_objects: heap.length,
        collections,
        // Every 'gc' entry is one stretch of main-thread time in a collection.
        pauses: collections,
        pause_p50_ms: some ? nearestRank(sorted, 50) : null,
        pause_p99_ms: some ? nearestRank(sorted, 99) : null,
        pause_max_ms: some ? sorted[sorted.length - 1] : null,
        largest_process_gc_ms: null,
        long_gcs: null
      }
    },
    reset () {
      since = performance.now()
      collections = 0
      durations = []
      next = 0
    },
    close () {
      observer.disconnect()
    }
  }
}
