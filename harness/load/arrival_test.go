package load

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A read carries the time the data reached the socket, not the time it was
// read: the loader's own delay in reading stays out of the latency.
func TestReadsCarryTheKernelsArrivalTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// The server echoes each 'p' and answers an 'r' with a response,
	// reporting when it wrote it.
	written := make(chan time.Time, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		var b [1]byte
		for {
			if _, err := s.Read(b[:]); err != nil {
				return
			}
			if b[0] == 'r' {
				written <- time.Now()
				_, _ = s.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
			} else {
				_, _ = s.Write(b[:])
			}
		}
	}()
	tr := &Transport{MaxConns: 1, Timeout: 5 * time.Second}
	t.Cleanup(tr.Close)
	p, err := tr.pool(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.get(context.Background(), time.Now().Add(5*time.Second), tr)
	if err != nil {
		t.Fatal(err)
	}
	if !c.stamps {
		t.Skip("this kernel does not timestamp TCP reads (SO_TIMESTAMPNS)")
	}
	// Linux turns receive timestamps on for the whole machine in a work
	// item after the first socket asks: until then data arrives unstamped.
	buf := make([]byte, 256)
	for deadline := time.Now().Add(2 * time.Second); ; {
		if err := writeRaw(c.raw, []byte("p")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.readWait(buf); err != nil {
			t.Fatal(err)
		}
		if c.stamp != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("no read came with a receive timestamp within 2 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := writeRaw(c.raw, []byte("r")); err != nil {
		t.Fatal(err)
	}
	sent := <-written
	time.Sleep(50 * time.Millisecond) // the loader is slow to read
	n, err := c.readWait(buf)
	readAt := time.Now()
	if err != nil || n == 0 {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	arrived := time.Unix(0, c.stamp)
	if arrived.Before(sent.Add(-time.Millisecond)) || arrived.After(sent.Add(25*time.Millisecond)) {
		t.Fatalf("arrival stamp %s after the write, read %s after it: want the write's time, not the read's",
			arrived.Sub(sent), readAt.Sub(sent))
	}
	p.put(c)
}

// RoundTrip records each response's arrival under vegeta's sequence number,
// between the request's send and its return; a request without one has none.
func TestTransportRecordsArrivals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	tr := &Transport{MaxConns: 2, Timeout: 5 * time.Second}
	t.Cleanup(tr.Close)
	send := func(seq uint64) (before, after time.Time) {
		req, _ := http.NewRequest("GET", srv.URL+"/json", nil)
		req.Header.Set("X-Vegeta-Seq", strconv.FormatUint(seq, 10))
		before = time.Now()
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		return before, time.Now()
	}
	// Until the machine's receive timestamps are on (a work item after the
	// first socket asks), responses arrive unstamped and have no arrival.
	seq := uint64(100)
	for deadline := time.Now().Add(2 * time.Second); ; seq++ {
		send(seq)
		if _, ok := tr.Arrival(seq); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Skip("no response came with a receive timestamp within 2 s")
		}
	}
	before, after := send(7)
	at, ok := tr.Arrival(7)
	if !ok {
		t.Fatal("no arrival recorded for seq 7, though the responses before it had theirs")
	}
	if at.Sub(before) < 5*time.Millisecond || at.After(after) {
		t.Errorf("arrival %s after the send, RoundTrip returned %s after it: want within, past the 5 ms the server took", at.Sub(before), after.Sub(before))
	}
	if _, ok := tr.Arrival(8); ok {
		t.Error("an arrival for a request never sent")
	}
	plain, _ := http.NewRequest("GET", srv.URL+"/json", nil)
	if _, err := tr.RoundTrip(plain); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Arrival(0); ok {
		t.Error("an arrival for a request without a sequence number")
	}
}

// The arrival, when known and between send and read, ends the latency.
func TestTallyEndsLatencyAtArrival(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	res := &vegeta.Result{Seq: 1, Code: 200, Timestamp: t0, Latency: 5 * time.Millisecond}
	intended := t0.Add(-time.Millisecond)
	for _, tc := range []struct {
		name                string
		arrived             time.Time
		wantCorr, wantVeget float64 // ms
	}{
		{"arrival known", t0.Add(2 * time.Millisecond), 3, 2},
		{"no arrival", time.Time{}, 6, 5},
		{"arrival after the read (a clock step)", t0.Add(9 * time.Millisecond), 6, 5},
		{"arrival before the send", t0.Add(-2 * time.Millisecond), 6, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTally()
			tl.add(res, intended, tc.arrived)
			st := tl.Step(1000)
			if !near(st.Corrected.P50, tc.wantCorr) || !near(st.Vegeta.P50, tc.wantVeget) {
				t.Errorf("corrected p50 %.3f, vegeta p50 %.3f ms; want %.0f and %.0f", st.Corrected.P50, st.Vegeta.P50, tc.wantCorr, tc.wantVeget)
			}
		})
	}
}

func near(a, b float64) bool { return a > b*0.99 && a < b*1.01 }
