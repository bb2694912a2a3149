package calibrate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Loaders that offer the same rate can deliver it in different shapes: one
// sends a request every 250 µs at 4,000 req/s, another (oha, whose timer
// ticks each millisecond) bursts of about five every 1.2 ms. A target's CPU
// per request depends on that shape (a burst is served in one wake-up, an
// even stream wakes it for every request), so a cross-check that compares
// loaders on one target must show what each one actually delivered. The
// reference server is where that can be seen without disturbing it: its
// loop already has each request's arrival time, and a histogram of the gaps
// costs it a subtraction and an increment per request.

// ArrivalsPath is the reference server's control route: GET it for the
// Arrivals since the previous GET (or since the server started), which
// starts a new window. It is not itself counted as an arrival.
const ArrivalsPath = "/_harness/arrivals"

// BunchGap is the gap under which a request counts as having reached the
// server together with the one before: well under the 250 µs between
// requests paced evenly at 4,000 req/s, so only requests sent together
// (or woken by the same timer tick) count.
const BunchGap = 20 * time.Microsecond

// Arrivals is the shape of the requests a reference server received in a window.
type Arrivals struct {
	Requests uint64  `json:"requests"`
	GapP10US float64 `json:"gap_p10_us"`
	GapP50US float64 `json:"gap_p50_us"`
	GapP90US float64 `json:"gap_p90_us"`
	GapP99US float64 `json:"gap_p99_us"`
	// Bunched is the share of gaps under BunchGap: requests that reached the server together with the one before.
	Bunched float64 `json:"bunched"`
	// MeanBurst is requests per burst, a burst being requests each within BunchGap of the one before: 1 for evenly spaced arrivals.
	MeanBurst float64 `json:"mean_burst"`
}

// String is the shape in one line, for a log.
func (a Arrivals) String() string {
	if a.Requests == 0 {
		return "no requests"
	}
	return fmt.Sprintf("gaps p10/p50/p90 %.0f/%.0f/%.0f µs, %.0f %% bunched, %.1f per burst (%d requests)",
		a.GapP10US, a.GapP50US, a.GapP90US, 100*a.Bunched, a.MeanBurst, a.Requests)
}

// arrivalsTimeout bounds a read: the loop answers at once, so a server that
// has not answered within it is stuck or gone.
const arrivalsTimeout = 5 * time.Second

// ReadArrivals reads (and so resets) the arrivals of the reference server
// at baseURL, http://host:port.
func ReadArrivals(ctx context.Context, baseURL string) (Arrivals, error) {
	url := strings.TrimRight(baseURL, "/") + ArrivalsPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Arrivals{}, fmt.Errorf("read arrivals: GET %s: %w", url, err)
	}
	// A read is rare: leave no idle connection in the server's loop.
	req.Close = true
	resp, err := (&http.Client{Timeout: arrivalsTimeout}).Do(req)
	if err != nil {
		return Arrivals{}, fmt.Errorf("read arrivals: %w", err) // the error names the URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return Arrivals{}, fmt.Errorf("read arrivals: GET %s: body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Arrivals{}, fmt.Errorf("read arrivals: GET %s: status %d: %.200s", url, resp.StatusCode, bytes.TrimSpace(body))
	}
	var a Arrivals
	if err := json.Unmarshal(body, &a); err != nil {
		return Arrivals{}, fmt.Errorf("read arrivals: GET %s: decode %.200q: %w", url, body, err)
	}
	return a, nil
}

// gapBuckets is the histogram's range in 1 µs buckets; a gap of 10 ms or
// more goes to one overflow bucket, reported as 10,000 µs. The shapes a
// cross-check tells apart are within a millisecond or two; a longer gap
// need only be counted.
const gapBuckets = 10_000

// gapHist is the loop's record of arrival gaps since the last read. Only
// the loop touches it, so it needs no lock; it is a fixed array so that
// recording never allocates.
type gapHist struct {
	counts   [gapBuckets + 1]uint64 // by gap in µs; [gapBuckets] is the overflow
	requests uint64
	last     int64 // the previous request's arrival, ns on the loop's clock
}

// record notes a request that arrived at now (ns on the loop's clock, which
// never goes back). The first request of a window has no gap.
func (h *gapHist) record(now int64) {
	if h.requests > 0 {
		h.counts[min(uint64(now-h.last)/1000, gapBuckets)]++
	}
	h.requests++
	h.last = now
}

func (h *gapHist) reset() { *h = gapHist{} }

// arrivals summarises the window.
func (h *gapHist) arrivals() Arrivals {
	if h.requests == 0 {
		return Arrivals{}
	}
	a := Arrivals{
		Requests: h.requests,
		GapP10US: h.percentile(10), GapP50US: h.percentile(50),
		GapP90US: h.percentile(90), GapP99US: h.percentile(99),
	}
	gaps := h.requests - 1
	var bunched uint64
	for _, n := range h.counts[:BunchGap/time.Microsecond] {
		bunched += n
	}
	if gaps > 0 {
		a.Bunched = float64(bunched) / float64(gaps)
	}
	a.MeanBurst = float64(h.requests) / float64(gaps-bunched+1)
	return a
}

// percentile is the gap in µs at pct per cent of the recorded gaps
// (nearest rank), 0 when there are none.
func (h *gapHist) percentile(pct uint64) float64 {
	gaps := h.requests - 1
	if h.requests == 0 || gaps == 0 {
		return 0
	}
	rank := max((pct*gaps+99)/100, 1)
	var seen uint64
	for us, n := range h.counts {
		if seen += n; seen >= rank {
			return float64(us)
		}
	}
	return gapBuckets // unreachable: the counts hold every gap
}

// arrivalsAnswer is the control route's answer: the window so far, which it
// closes. It allocates, which only this rare request pays.
func (s *Server) arrivalsAnswer() []byte {
	b, err := json.Marshal(s.gaps.arrivals())
	if err != nil {
		panic(fmt.Sprintf("marshal arrivals: %v", err)) // finite floats cannot fail
	}
	s.gaps.reset()
	return encode("200 OK", b).b
}

// isArrivals reports whether req is the control route's GET. Every
// request asks it, so it compares bytes without converting them.
func isArrivals(req request) bool {
	path, _, _ := bytes.Cut(req.target, []byte{'?'})
	return string(req.method) == http.MethodGet && string(path) == ArrivalsPath
}
