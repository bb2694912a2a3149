package load

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Tally folds results into what a Step reports, with vegeta's definitions
// of rate (requests over the span of send times) and throughput (successes
// over that span plus the last request's latency). Tallies of loaders that
// shared one attack merge into the attack's (Merge), and travel between
// processes as JSON with hdrhistogram-go's compressed encoding, so a
// percentile of several loaders is a percentile of all their requests, not
// an average of theirs.
type Tally struct {
	vegeta, corrected *hdrhistogram.Histogram
	requests, success uint64
	dropped           uint64
	over10ms          uint64
	first, last, end  time.Time
	codes             map[uint16]int
	errs              map[string]int
	conns             int
}

// Latencies are recorded in µs from 1 µs to 2 min with 3 significant
// figures; a tally from elsewhere must have the same settings to merge.
const (
	histLowest  = 1
	histHighest = int64(2 * time.Minute / time.Microsecond)
	histDigits  = 3
)

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{vegeta: hdrhistogram.New(histLowest, histHighest, histDigits),
		corrected: hdrhistogram.New(histLowest, histHighest, histDigits),
		codes:     map[uint16]int{}, errs: map[string]int{}}
}

// Requests is the number of results folded in.
func (t *Tally) Requests() uint64 { return t.requests }

func (t *Tally) add(res *vegeta.Result, intended, arrived time.Time) {
	t.requests++
	if t.first.IsZero() || res.Timestamp.Before(t.first) {
		t.first = res.Timestamp
	}
	if res.Timestamp.After(t.last) {
		t.last = res.Timestamp
	}
	done, sent := res.Timestamp.Add(res.Latency), res.Latency
	// The kernel's arrival time, when the transport has it, ends the
	// latency: what the loader took to read the response is its own. It
	// must fall between the send and the read; a clock step would not.
	if !arrived.IsZero() && arrived.After(res.Timestamp) && !arrived.After(done) {
		done, sent = arrived, arrived.Sub(res.Timestamp)
	}
	if done.After(t.end) {
		t.end = done
	}
	lat := max(done.Sub(intended), sent)
	if lat > 10*time.Millisecond {
		t.over10ms++
	}
	if t.vegeta.RecordValue(max(1, sent.Microseconds())) != nil {
		t.dropped++
	}
	if t.corrected.RecordValue(max(1, lat.Microseconds())) != nil {
		t.dropped++
	}
	t.codes[res.Code]++
	if res.Error != "" {
		t.errs[res.Error]++
	} else if res.Code >= 200 && res.Code < 400 {
		t.success++
	}
}

// Merge folds o into t: counts add, the time span covers both, and the
// histograms merge value by value. Values o's histograms hold that t's
// cannot are counted as dropped.
func (t *Tally) Merge(o *Tally) {
	t.requests += o.requests
	t.success += o.success
	t.dropped += o.dropped + uint64(t.vegeta.Merge(o.vegeta)) + uint64(t.corrected.Merge(o.corrected))
	t.over10ms += o.over10ms
	if !o.first.IsZero() && (t.first.IsZero() || o.first.Before(t.first)) {
		t.first = o.first
	}
	if o.last.After(t.last) {
		t.last = o.last
	}
	if o.end.After(t.end) {
		t.end = o.end
	}
	for c, n := range o.codes {
		t.codes[c] += n
	}
	for e, n := range o.errs {
		t.errs[e] += n
	}
	t.conns += o.conns
}

func (t *Tally) progress(rate float64, began time.Time) Step {
	elapsed := time.Since(began).Seconds()
	return Step{Offered: rate, Achieved: float64(t.requests) / elapsed, Requests: t.requests, Corrected: summarize(t.corrected)}
}

// Step summarises the tally as an attack offered rate made it.
func (t *Tally) Step(rate float64) Step {
	st := Step{Offered: rate, Requests: t.requests, Vegeta: summarize(t.vegeta), Corrected: summarize(t.corrected),
		Codes: map[string]int{}, Errors: topErrors(t.errs, 5), Connections: t.conns, Dropped: t.dropped, Over10ms: t.over10ms}
	for c, n := range t.codes {
		st.Codes[strconv.Itoa(int(c))] = n
	}
	if t.requests > 0 {
		st.Success = float64(t.success) / float64(t.requests)
		span := t.last.Sub(t.first)
		st.Duration = span.Seconds()
		if span > 0 {
			st.Achieved = float64(t.requests) / span.Seconds()
		}
		if wait := t.end.Sub(t.last); span+wait > 0 {
			st.Throughput = float64(t.success) / (span + wait).Seconds()
		}
		for _, q := range SpectrumPercentiles {
			st.Spectrum = append(st.Spectrum, Quantile{Percentile: q, MS: float64(t.corrected.ValueAtQuantile(q)) / 1000})
		}
	}
	if diff := st.Corrected.P95 - st.Vegeta.P95; st.Vegeta.P95 > 0 {
		st.CODiverges = diff/st.Vegeta.P95 > coThreshold && diff > ms(coFloor)
	}
	return st
}

// tallyJSON is a Tally on the wire. Histograms are hdrhistogram-go's V2
// compressed encoding (base64); times are Unix nanoseconds.
type tallyJSON struct {
	Vegeta      string         `json:"vegeta_hdr"`
	Corrected   string         `json:"corrected_hdr"`
	Requests    uint64         `json:"requests"`
	Success     uint64         `json:"success"`
	Dropped     uint64         `json:"dropped"`
	Over10ms    uint64         `json:"over_10ms"`
	First       int64          `json:"first_ns"`
	Last        int64          `json:"last_ns"`
	End         int64          `json:"end_ns"`
	Codes       map[string]int `json:"codes"`
	Errors      map[string]int `json:"errors,omitempty"`
	Connections int            `json:"connections"`
}

// MarshalJSON encodes the tally for another process to merge.
func (t *Tally) MarshalJSON() ([]byte, error) {
	v, err := t.vegeta.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode latency histogram: %w", err)
	}
	c, err := t.corrected.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode latency histogram: %w", err)
	}
	w := tallyJSON{Vegeta: string(v), Corrected: string(c), Requests: t.requests, Success: t.success, Dropped: t.dropped,
		Over10ms: t.over10ms, First: unixNano(t.first), Last: unixNano(t.last), End: unixNano(t.end),
		Codes: map[string]int{}, Errors: t.errs, Connections: t.conns}
	for code, n := range t.codes {
		w.Codes[strconv.Itoa(int(code))] = n
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes a tally another process encoded. Its histograms
// must have this package's settings: a merge across different settings
// would silently change their precision.
func (t *Tally) UnmarshalJSON(b []byte) error {
	var w tallyJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	n := NewTally()
	for _, h := range []struct {
		enc string
		dst **hdrhistogram.Histogram
	}{{w.Vegeta, &n.vegeta}, {w.Corrected, &n.corrected}} {
		d, err := hdrhistogram.Decode([]byte(h.enc))
		if err != nil {
			return fmt.Errorf("decode latency histogram: %w", err)
		}
		if d.LowestTrackableValue() != histLowest || d.HighestTrackableValue() != histHighest || d.SignificantFigures() != histDigits {
			return fmt.Errorf("latency histogram has settings %d..%d µs, %d digits; this loader records %d..%d µs, %d digits",
				d.LowestTrackableValue(), d.HighestTrackableValue(), d.SignificantFigures(), histLowest, histHighest, histDigits)
		}
		*h.dst = d
	}
	n.requests, n.success, n.dropped, n.over10ms, n.conns = w.Requests, w.Success, w.Dropped, w.Over10ms, w.Connections
	n.first, n.last, n.end = fromUnixNano(w.First), fromUnixNano(w.Last), fromUnixNano(w.End)
	for code, c := range w.Codes {
		v, err := strconv.ParseUint(code, 10, 16)
		if err != nil {
			return fmt.Errorf("status code %q: %w", code, err)
		}
		n.codes[uint16(v)] = c
	}
	for e, c := range w.Errors {
		n.errs[e] = c
	}
	*t = *n
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
