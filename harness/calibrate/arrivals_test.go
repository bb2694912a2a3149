package calibrate

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The summary's arithmetic on known gaps: nearest-rank percentiles in 1 µs
// buckets, the overflow bucket read as 10,000 µs, BunchGap's edge, and the
// first request of a window having no gap.
func TestArrivalsHistogram(t *testing.T) {
	us := int64(time.Microsecond)
	every := func(n int, gap int64) []int64 {
		at := make([]int64, n)
		for i := range at {
			at[i] = int64(i) * gap
		}
		return at
	}
	// 4 bursts of 5 requests, 1.2 ms apart: oha's shape at 4,000 req/s.
	var bursts []int64
	for b := range 4 {
		for range 5 {
			bursts = append(bursts, int64(b)*1200*us)
		}
	}
	for _, tc := range []struct {
		name string
		at   []int64 // arrival times, ns
		want Arrivals
	}{
		{"none", nil, Arrivals{}},
		{"one", []int64{5 * us}, Arrivals{Requests: 1, MeanBurst: 1}},
		{"even", every(101, 250*us), Arrivals{Requests: 101, GapP10US: 250, GapP50US: 250, GapP90US: 250, GapP99US: 250, MeanBurst: 1}},
		{"bursts", bursts, Arrivals{Requests: 20, GapP10US: 0, GapP50US: 0, GapP90US: 1200, GapP99US: 1200, Bunched: 16.0 / 19, MeanBurst: 5}},
		// Gaps 19.999 µs (bucket 19, bunched) and 20 µs (bucket 20, not).
		{"bunch edge", []int64{0, 19_999, 39_999}, Arrivals{Requests: 3, GapP10US: 19, GapP50US: 19, GapP90US: 20, GapP99US: 20, Bunched: 0.5, MeanBurst: 1.5}},
		// Gaps 10 ms and 50 ms overflow; 9,999.5 µs is the last bucket.
		{"overflow", []int64{0, 10_000 * us, 60_000 * us, 60_000*us + 9_999_500}, Arrivals{Requests: 4, GapP10US: 9999, GapP50US: 10000, GapP90US: 10000, GapP99US: 10000, MeanBurst: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h gapHist
			// A window read before must leave nothing behind: not its
			// counts, not its last arrival (which would give a 1 s gap).
			h.record(-time.Second.Nanoseconds())
			h.record(-time.Second.Nanoseconds())
			h.reset()
			for _, at := range tc.at {
				h.record(at)
			}
			if got := h.arrivals(); got != tc.want {
				t.Errorf("arrivals() =\n %#v, want\n %#v", got, tc.want)
			}
		})
	}
}

func TestArrivalsString(t *testing.T) {
	for _, tc := range []struct {
		a    Arrivals
		want string
	}{
		{Arrivals{}, "no requests"},
		{Arrivals{Requests: 4000, GapP10US: 231, GapP50US: 249, GapP90US: 267, GapP99US: 300, MeanBurst: 1},
			"gaps p10/p50/p90 231/249/267 µs, 0 % bunched, 1.0 per burst (4000 requests)"},
		{Arrivals{Requests: 4000, GapP90US: 1180, GapP99US: 1300, Bunched: 0.8, MeanBurst: 5},
			"gaps p10/p50/p90 0/0/1180 µs, 80 % bunched, 5.0 per burst (4000 requests)"},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func readArrivals(t *testing.T, s *Server) Arrivals {
	t.Helper()
	a, err := ReadArrivals(context.Background(), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Requests sent one at a time, 2 ms apart, arrive evenly: none bunched.
func TestArrivalsSequential(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, ServerConfig{Blocking: m.blocking})
			c := client(t)
			const n = 20
			for i := range n {
				if i > 0 {
					time.Sleep(2 * time.Millisecond)
				}
				if resp, body := get(t, c, s.URL()+"/json"); resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /json: %d %s", resp.StatusCode, body)
				}
			}
			a := readArrivals(t, s)
			// Each request left after the previous answer plus 2 ms, so no
			// gap can be shorter, whatever the scheduler did.
			if a.Requests != n || a.GapP50US < 1500 || a.GapP50US > 10_000 || a.Bunched != 0 || a.MeanBurst != 1 {
				t.Errorf("%d requests 2 ms apart: %#v, want %d requests, p50 1.5-10 ms, none bunched, 1 per burst", n, a, n)
			}
		})
	}
}

// Requests written at once arrive together: the gaps inside a read are 0.
func TestArrivalsPipelined(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, ServerConfig{Blocking: m.blocking})
			conn := dial(t, s)
			const n = 10
			if _, err := conn.Write([]byte(strings.Repeat("GET /json HTTP/1.1\r\nHost: x\r\n\r\n", n))); err != nil {
				t.Fatal(err)
			}
			readResponses(t, bufio.NewReader(conn), "GET", n)
			a := readArrivals(t, s)
			// One read, or two if the kernel split the write: at most one
			// of the 9 gaps is not 0, so at least 8/9 bunched and at most
			// 2 bursts.
			if a.Requests != n || a.Bunched < 0.8 || a.MeanBurst < 5 || a.GapP50US != 0 {
				t.Errorf("%d pipelined requests: %#v, want %d requests, ≥ 0.8 bunched, ≥ 5 per burst, p50 0", n, a, n)
			}
		})
	}
}

// A read closes its window: the next one starts empty, the control request
// is never counted, and the first request after it has no gap.
func TestArrivalsReadResets(t *testing.T) {
	s := serve(t, ServerConfig{})
	c := client(t)
	for range 3 {
		get(t, c, s.URL()+"/health")
	}
	if a := readArrivals(t, s); a.Requests != 3 {
		t.Errorf("first read: %#v, want 3 requests", a)
	}
	if a := readArrivals(t, s); a != (Arrivals{}) {
		t.Errorf("read right after a read: %#v, want zero", a)
	}
	time.Sleep(2 * time.Millisecond) // would be a 2 ms gap if the last arrival survived the read
	get(t, c, s.URL()+"/json")
	if a := readArrivals(t, s); a != (Arrivals{Requests: 1, MeanBurst: 1}) {
		t.Errorf("one request after a read: %#v, want 1 request and no gap", a)
	}

	// It is answered as the other routes are, on a keep-alive connection.
	resp, body := get(t, c, s.URL()+ArrivalsPath+"?x=1")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(body)) {
		t.Errorf("GET %s: %d %v %s", ArrivalsPath, resp.StatusCode, resp.Header, body)
	}
	if got := s.Requests(); got != 3+1+4 {
		t.Errorf("Requests() = %d, want 8 answers, control reads included", got)
	}
}

func TestReadArrivalsErrors(t *testing.T) {
	notRef := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notRef.Close)
	s := serve(t, ServerConfig{})
	gone := s.URL()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{notRef.URL, gone} {
		_, err := ReadArrivals(context.Background(), base)
		if err == nil || !strings.Contains(err.Error(), base+ArrivalsPath) {
			t.Errorf("ReadArrivals(%s) = %v, want an error naming the URL", base, err)
		}
	}
}
