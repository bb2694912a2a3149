package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// The GC load (scenarios/gc.yaml) has two halves. At start a target builds
// LiveObjectsEnv records and keeps them reachable for its whole life, a
// large live heap its collector must live with; GET /gc/churn then builds
// a fresh response of many small objects per request and serialises it, so
// the collector runs often. GET /gc/stats reports what the runtime itself
// says about its collections since POST /gc/reset. targets/README.md states
// it for implementers; this is the reference `harness verify` checks.
const (
	// LiveObjectsEnv names the environment variable with the number of
	// live records to hold (0 or unset: none).
	LiveObjectsEnv    = "GC_LIVE_OBJECTS"
	ChurnDefaultN     = 100
	ChurnMaxN         = 10000
	churnKeyModulus   = 1000003
	churnScoreModulus = 1000
)

// ChurnParams are /gc/churn's query parameters.
type ChurnParams struct {
	Seed uint32
	N    int
}

// ChurnItem is one of the small objects a churn request builds.
type ChurnItem struct {
	ID    int      `json:"id"`
	Key   string   `json:"key"`
	Score int      `json:"score"`
	Tags  []string `json:"tags"`
}

// ChurnResult is the answer; field order is the serialisation order.
type ChurnResult struct {
	Seed  uint32      `json:"seed"`
	N     int         `json:"n"`
	Items []ChurnItem `json:"items"`
}

// ParseChurnParams reads seed (0..2^32-1, default 0) and n (1..10000,
// default 100); any other value is an error naming the field, answered 422.
func ParseChurnParams(q url.Values) (ChurnParams, error) {
	p := ChurnParams{N: ChurnDefaultN}
	if q.Has("seed") {
		v := q.Get("seed")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || v[0] == '+' {
			return p, fmt.Errorf("seed")
		}
		p.Seed = uint32(n)
	}
	if q.Has("n") {
		v := q.Get("n")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ChurnMaxN || v[0] == '+' {
			return p, fmt.Errorf("n")
		}
		p.N = n
	}
	return p, nil
}

// Churn builds the answer's n items: item j has key "k<(seed+j) mod
// 1000003>", score (seed mod 1000 + 7j) mod 1000 and tags "t<j mod 5>",
// "u<j mod 7>".
func Churn(p ChurnParams) ChurnResult {
	res := ChurnResult{Seed: p.Seed, N: p.N, Items: make([]ChurnItem, p.N)}
	for j := range p.N {
		res.Items[j] = ChurnItem{
			ID:    j,
			Key:   "k" + strconv.FormatUint((uint64(p.Seed)+uint64(j))%churnKeyModulus, 10),
			Score: (int(p.Seed%churnScoreModulus) + 7*j) % churnScoreModulus,
			Tags:  []string{"t" + strconv.Itoa(j%5), "u" + strconv.Itoa(j%7)},
		}
	}
	return res
}

// ChurnJSON is the canonical encoding of Churn(p).
func ChurnJSON(p ChurnParams) []byte {
	b, err := json.Marshal(Churn(p))
	if err != nil {
		panic(fmt.Sprintf("marshal churn result: %v", err)) // plain structs cannot fail
	}
	return b
}

// LiveRecord is record k of the live heap: id k, name "live-<k>", tags
// "a<k mod 10>" and "b<k mod 100>", each string its own allocation.
type LiveRecord struct {
	ID   int
	Name string
	Tags []string
}

// NewLiveRecord builds record k.
func NewLiveRecord(k int) *LiveRecord {
	return &LiveRecord{ID: k, Name: "live-" + strconv.Itoa(k), Tags: []string{"a" + strconv.Itoa(k%10), "b" + strconv.Itoa(k%100)}}
}

// GC runtimes, as /gc/stats names them.
const (
	GCRuntimeGo   = "go"
	GCRuntimeNode = "node"
	GCRuntimeBEAM = "beam"
	GCRuntimeRust = "rust"
	// GCRuntimeNone is a server with no figures of its own (the reference).
	GCRuntimeNone = "none"
)

// GCStats is GET /gc/stats: the runtime's own account of its collections
// since the last POST /gc/reset (or since start). A figure the runtime does
// not have is null: Rust has no collector; the BEAM collects each process's
// heap on its own, so it has no pause that stops every request.
type GCStats struct {
	Runtime     string `json:"runtime"`
	LiveObjects int64  `json:"live_objects"`
	// Collections counts GC cycles (Go: /gc/cycles/total:gc-cycles; Node:
	// perf_hooks "gc" entries; BEAM: erlang:statistics(garbage_collection),
	// every process's collections together).
	Collections *int64 `json:"collections"`
	// Pauses and the pause percentiles are the runtime's stop-the-world
	// pauses (Go: /gc/pauses:seconds; Node: the durations of perf_hooks "gc"
	// entries, the main thread's time in each collection), in ms.
	Pauses     *int64   `json:"pauses"`
	PauseP50MS *float64 `json:"pause_p50_ms"`
	PauseP99MS *float64 `json:"pause_p99_ms"`
	PauseMaxMS *float64 `json:"pause_max_ms"`
	// LargestProcessGCMS (BEAM) is the longest single process's collection
	// that took at least LongGCThresholdMS (erlang:system_monitor's long_gc,
	// whose resolution is a millisecond); 0 when none did. LongGCs counts
	// them.
	LargestProcessGCMS *float64 `json:"largest_process_gc_ms"`
	LongGCs            *int64   `json:"long_gcs"`
}

// LongGCThresholdMS is the BEAM's long_gc threshold: system_monitor reports
// no collection shorter than 1 ms.
const LongGCThresholdMS = 1

// DecodeGCStats reads a /gc/stats answer: exactly the contract's fields,
// and figures that make sense together (Check).
func DecodeGCStats(body []byte) (GCStats, error) {
	var s GCStats
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("not a /gc/stats answer: %w", err)
	}
	if problem := s.Check(); problem != "" {
		return s, errors.New(problem)
	}
	return s, nil
}

// Check says what is wrong with a /gc/stats answer, or "".
func (s GCStats) Check() string {
	switch s.Runtime {
	case GCRuntimeGo, GCRuntimeNode, GCRuntimeBEAM, GCRuntimeRust, GCRuntimeNone:
	default:
		return fmt.Sprintf("runtime %q is not one of go, node, beam, rust, none", s.Runtime)
	}
	if s.LiveObjects < 0 {
		return fmt.Sprintf("live_objects %d is negative", s.LiveObjects)
	}
	for name, v := range map[string]*int64{"collections": s.Collections, "pauses": s.Pauses, "long_gcs": s.LongGCs} {
		if v != nil && *v < 0 {
			return fmt.Sprintf("%s %d is negative", name, *v)
		}
	}
	for name, v := range map[string]*float64{"pause_p50_ms": s.PauseP50MS, "pause_p99_ms": s.PauseP99MS, "pause_max_ms": s.PauseMaxMS, "largest_process_gc_ms": s.LargestProcessGCMS} {
		if v != nil && *v < 0 {
			return fmt.Sprintf("%s %g is negative", name, *v)
		}
	}
	if p50, p99, mx := s.PauseP50MS, s.PauseP99MS, s.PauseMaxMS; p50 != nil && p99 != nil && mx != nil && (*p50 > *p99 || *p99 > *mx) {
		return fmt.Sprintf("pause percentiles out of order: p50 %g, p99 %g, max %g", *p50, *p99, *mx)
	}
	hasPauses := s.Runtime == GCRuntimeGo || s.Runtime == GCRuntimeNode
	switch {
	case !hasPauses && (s.Pauses != nil || s.PauseP99MS != nil):
		return fmt.Sprintf("runtime %q has no stop-the-world pauses: pauses and pause_*_ms must be null", s.Runtime)
	case hasPauses && s.Pauses == nil:
		return fmt.Sprintf("runtime %q must count its pauses", s.Runtime)
	case hasPauses && *s.Pauses > 0 && (s.PauseP50MS == nil || s.PauseP99MS == nil || s.PauseMaxMS == nil):
		return fmt.Sprintf("%d pauses but pause_p50_ms, pause_p99_ms or pause_max_ms is null", *s.Pauses)
	}
	if got := s.LargestProcessGCMS != nil; got != (s.Runtime == GCRuntimeBEAM) {
		return fmt.Sprintf("largest_process_gc_ms must be a number for the BEAM and null elsewhere, got runtime %q", s.Runtime)
	}
	return ""
}
