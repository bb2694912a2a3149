package load

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Two loaders' tallies, each sent through JSON as agents send them and
// merged, report exactly what one tally of all the requests reports.
func TestTallyMergeIsOneTally(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	began := time.Unix(1_700_000_000, 0)
	one, parts := NewTally(), []*Tally{NewTally(), NewTally()}
	for i := range 20000 {
		res := &vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: began.Add(time.Duration(i) * 100 * time.Microsecond),
			Latency: time.Duration(50+rng.ExpFloat64()*400) * time.Microsecond}
		switch {
		case i%97 == 0:
			res.Code, res.Error = 0, "connection refused"
		case i%31 == 0:
			res.Code = 503
		}
		intended := res.Timestamp.Add(-time.Duration(rng.IntN(50)) * time.Microsecond)
		one.add(res, intended, time.Time{})
		parts[i%2].add(res, intended, time.Time{})
	}
	merged := NewTally()
	for _, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Tally
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		merged.Merge(&back)
	}
	want, got := one.Step(10000), merged.Step(10000)
	if got.Corrected != want.Corrected || got.Vegeta != want.Vegeta {
		t.Errorf("merged latencies %+v / %+v, one tally's %+v / %+v", got.Corrected, got.Vegeta, want.Corrected, want.Vegeta)
	}
	if got.Requests != want.Requests || got.Success != want.Success || got.Achieved != want.Achieved || got.Throughput != want.Throughput {
		t.Errorf("merged counts %d %.4f %.1f %.1f, one tally's %d %.4f %.1f %.1f", got.Requests, got.Success, got.Achieved, got.Throughput,
			want.Requests, want.Success, want.Achieved, want.Throughput)
	}
	if got.Codes["503"] != want.Codes["503"] || got.Codes["0"] != want.Codes["0"] || strings.Join(got.Errors, ",") != strings.Join(want.Errors, ",") {
		t.Errorf("merged codes %v errors %v, one tally's %v %v", got.Codes, got.Errors, want.Codes, want.Errors)
	}
}

// A histogram recorded with other settings is refused, not merged at a
// precision nobody asked for.
func TestTallyRefusesOtherHistogramSettings(t *testing.T) {
	b, err := json.Marshal(NewTally())
	if err != nil {
		t.Fatal(err)
	}
	var w map[string]any
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	other, err := hdrhistogram.New(1, 60_000_000, 2).Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	w["corrected_hdr"] = string(other)
	b, _ = json.Marshal(w)
	var back Tally
	err = json.Unmarshal(b, &back)
	if err == nil || !strings.Contains(err.Error(), "2 digits") {
		t.Fatalf("decode with other settings: %v, want an error naming them", err)
	}
}
