package main

import (
	"math"
	"net/url"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
)

// The GC load of targets/README.md ("The GC load"): a live heap held for the
// life of the process, GET /gc/churn, GET /gc/stats and POST /gc/reset.
const (
	churnDefaultN     = 100
	churnMaxN         = 10000
	churnKeyModulus   = 1000003
	churnScoreModulus = 1000
)

// liveRecord is record k of the live heap. Its fields are never read: the
// records exist so the collector has a large, pointer-rich heap to trace.
type liveRecord struct {
	ID   int
	Name string
	Tags []string
}

// liveHeap is a slice of pointers, so every record (and each of its strings)
// is its own object the collector must mark.
type liveHeap []*liveRecord

// newLiveHeap builds n records; strconv builds every string afresh, so no
// two records share one.
func newLiveHeap(n int) liveHeap {
	h := make(liveHeap, n)
	for k := range n {
		h[k] = &liveRecord{
			ID:   k,
			Name: "live-" + strconv.Itoa(k),
			Tags: []string{"a" + strconv.Itoa(k%10), "b" + strconv.Itoa(k%100)},
		}
	}
	return h
}

type churnParams struct {
	seed uint32
	n    int
}

type churnItem struct {
	ID    int      `json:"id"`
	Key   string   `json:"key"`
	Score int      `json:"score"`
	Tags  []string `json:"tags"`
}

// churnResult is the 200 answer; field order is the key order of the
// contract.
type churnResult struct {
	Seed  uint32      `json:"seed"`
	N     int         `json:"n"`
	Items []churnItem `json:"items"`
}

// parseChurnParams reads seed then n, with the rules of /compute/rank's
// parameters (decimalIn): absent takes the default, present must be valid.
func parseChurnParams(q url.Values) (churnParams, string) {
	p := churnParams{n: churnDefaultN}
	if v, ok := q["seed"]; ok {
		n, ok := decimalIn(v[0], 0, 1<<32-1)
		if !ok {
			return p, "seed"
		}
		p.seed = uint32(n)
	}
	if v, ok := q["n"]; ok {
		n, ok := decimalIn(v[0], 1, churnMaxN)
		if !ok {
			return p, "n"
		}
		p.n = int(n)
	}
	return p, ""
}

// churn builds the n items as structs, each with its own strings and tags
// slice: the allocation per request is the point of the endpoint.
func churn(p churnParams) churnResult {
	res := churnResult{Seed: p.seed, N: p.n, Items: make([]churnItem, p.n)}
	for j := range p.n {
		res.Items[j] = churnItem{
			ID:    j,
			Key:   "k" + strconv.FormatUint((uint64(p.seed)+uint64(j))%churnKeyModulus, 10),
			Score: (int(p.seed%churnScoreModulus) + 7*j) % churnScoreModulus,
			Tags:  []string{"t" + strconv.Itoa(j%5), "u" + strconv.Itoa(j%7)},
		}
	}
	return res
}

// gcStats is GET /gc/stats. A nil pointer is a JSON null: the figures Go's
// runtime does not have (the BEAM's per-process ones).
type gcStats struct {
	Runtime            string   `json:"runtime"`
	LiveObjects        int      `json:"live_objects"`
	Collections        *int64   `json:"collections"`
	Pauses             *int64   `json:"pauses"`
	PauseP50MS         *float64 `json:"pause_p50_ms"`
	PauseP99MS         *float64 `json:"pause_p99_ms"`
	PauseMaxMS         *float64 `json:"pause_max_ms"`
	LargestProcessGCMS *float64 `json:"largest_process_gc_ms"`
	LongGCs            *int64   `json:"long_gcs"`
}

// The contract names /gc/pauses:seconds; Go 1.22+ documents it as identical
// to /sched/pauses/total/gc:seconds, so either gives the same histogram.
const (
	metricPauses = "/gc/pauses:seconds"
	metricCycles = "/gc/cycles/total:gc-cycles"
)

// gcWindow holds the live heap, which the router reaches through it for as
// long as the server runs, and turns the runtime's cumulative counters into
// the window since the last reset: it keeps the counters read at the reset
// and subtracts them.
type gcWindow struct {
	heap liveHeap

	mu          sync.Mutex
	pauseCounts []uint64
	cycles      uint64
}

func newGCWindow(heap liveHeap) *gcWindow {
	w := &gcWindow{heap: heap}
	w.reset()
	return w
}

// readGCMetrics samples both metrics; the histogram's Counts is the runtime's own
// fresh slice, so it can be kept as a baseline.
func readGCMetrics() (*metrics.Float64Histogram, uint64) {
	s := []metrics.Sample{{Name: metricPauses}, {Name: metricCycles}}
	metrics.Read(s)
	return s[0].Value.Float64Histogram(), s[1].Value.Uint64()
}

func (w *gcWindow) reset() {
	h, cycles := readGCMetrics()
	w.mu.Lock()
	w.pauseCounts, w.cycles = h.Counts, cycles
	w.mu.Unlock()
}

func (w *gcWindow) stats() gcStats {
	h, cycles := readGCMetrics()
	w.mu.Lock()
	counts := slices.Clone(h.Counts)
	for i, c := range w.pauseCounts {
		counts[i] -= c
	}
	collections := int64(cycles - w.cycles)
	w.mu.Unlock()

	var pauses int64
	for _, c := range counts {
		pauses += int64(c)
	}
	s := gcStats{Runtime: "go", LiveObjects: len(w.heap), Collections: &collections, Pauses: &pauses}
	if pauses > 0 {
		s.PauseP50MS = percentileMS(h.Buckets, counts, pauses, 50)
		s.PauseP99MS = percentileMS(h.Buckets, counts, pauses, 99)
		s.PauseMaxMS = percentileMS(h.Buckets, counts, pauses, 100)
	}
	return s
}

// percentileMS is the nearest-rank percentile pct of a histogram holding
// total pauses: the bucket where the cumulative count reaches
// ceil(pct/100*total), read as its upper bound (its lower bound when the
// upper one is +Inf). The rank is computed in integers: a float product can
// land just above a whole number (0.07*100 does). The runtime only knows the
// bucket, so this is the figure's honest ceiling.
func percentileMS(buckets []float64, counts []uint64, total int64, pct uint64) *float64 {
	rank := (uint64(total)*pct + 99) / 100
	var cum uint64
	for i, c := range counts {
		cum += c
		if cum >= rank {
			v := buckets[i+1]
			if math.IsInf(v, 1) {
				v = buckets[i]
			}
			// Through whole nanoseconds, so 16.384 µs prints as 0.016384
			// rather than with the binary noise of v*1000.
			ms := math.Round(v*1e9) / 1e6
			return &ms
		}
	}
	return nil // not reached: the counts add up to total
}
