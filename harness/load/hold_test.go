package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// holdServer is a net/http server that counts what a holder does to it.
type holdServer struct {
	URL      string
	requests atomic.Int64
	bad      atomic.Int64 // requests not for GET /hold with a Host

	mu   sync.Mutex
	news int             // connections accepted
	open int             // connections open now
	ips  map[string]bool // remote addresses seen
}

func startHoldServer(t *testing.T, handle http.HandlerFunc) *holdServer {
	t.Helper()
	s := &holdServer{ips: map[string]bool{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method != "GET" || r.URL.Path != "/hold" || r.Host == "" {
			s.bad.Add(1)
		}
		handle(w, r)
	}))
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.news++
			s.open++
			ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			s.ips[ip] = true
		case http.StateClosed, http.StateHijacked:
			s.open--
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/hold"
	return s
}

func (s *holdServer) conns() (news, open int, ips []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ip := range s.ips {
		ips = append(ips, ip)
	}
	slices.Sort(ips)
	return s.news, s.open, ips
}

func answer(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }

// silentListener accepts nothing: the kernel completes handshakes into its
// backlog and nobody reads.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String() + "/hold"
}

func newTestHolder(t *testing.T, cfg HoldConfig) *Holder {
	t.Helper()
	h, err := NewHolder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func grow(t *testing.T, h *Holder, n int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.Grow(ctx, n)
}

func hasError(st HoldStats, text string) bool {
	return slices.ContainsFunc(st.Errors, func(e string) bool { return strings.Contains(e, text) })
}

func TestHolderHoldsEveryConnection(t *testing.T) {
	cases := []struct {
		name    string
		n       int
		sources int
		wantIPs []string
	}{
		{"one source", 300, 0, []string{"127.0.0.1"}},
		{"four sources", 200, 4, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startHoldServer(t, answer)
			h := newTestHolder(t, HoldConfig{URL: srv.URL, Every: 200 * time.Millisecond, DialRate: 20000, Timeout: 2 * time.Second, Sources: tc.sources})
			if err := grow(t, h, tc.n); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 3*time.Second, "every connection to answer", func() bool { return h.Stats().Held == tc.n })
			// A couple of cycles: each connection sends one request per Every.
			// The server counts a request before the holder has read its answer, so wait on
			// both counts: each may lag the other by the requests in flight.
			waitFor(t, 3*time.Second, "two requests per connection", func() bool {
				return srv.requests.Load() > int64(2*tc.n) && h.Stats().Requests > uint64(2*tc.n)
			})

			st := h.Stats()
			t.Logf("%+v", st)
			if st.Target != tc.n || st.Open != tc.n || st.Held != tc.n {
				t.Errorf("target %d, open %d, held %d; want %d each", st.Target, st.Open, st.Held, tc.n)
			}
			if st.RequestErrors+st.ConnectErrors+st.Redials != 0 || len(st.Errors) != 0 {
				t.Errorf("errors on a server that holds every connection: %+v", st)
			}
			if st.Requests < uint64(2*tc.n) {
				t.Errorf("%d requests answered, want more than %d", st.Requests, 2*tc.n)
			}
			if st.FDs < 2*tc.n { // both ends are in this process
				t.Errorf("%d open descriptors, want at least %d", st.FDs, 2*tc.n)
			}
			news, open, ips := srv.conns()
			if news != tc.n || open != tc.n {
				t.Errorf("server accepted %d connections and has %d open, want %d", news, open, tc.n)
			}
			if !slices.Equal(ips, tc.wantIPs) {
				t.Errorf("server saw connections from %v, want %v", ips, tc.wantIPs)
			}
			if b := srv.bad.Load(); b != 0 {
				t.Errorf("%d requests were not GET /hold with a Host", b)
			}
		})
	}
}

func TestHolderCountsWhatGoesWrong(t *testing.T) {
	const n = 20
	cases := []struct {
		name string
		url  func(t *testing.T) (url string, accepted func() int)
		rate float64 // dials per second
		// wantGrow is what Grow's error must wrap (nil: no error).
		wantGrow error
		check    func(t *testing.T, h *Holder, accepted func() int)
	}{
		{
			name: "answers with Connection: close",
			url: func(t *testing.T) (string, func() int) {
				srv := startHoldServer(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Connection", "close")
					answer(w, r)
				})
				return srv.URL, func() int { news, _, _ := srv.conns(); return news }
			},
			check: func(t *testing.T, h *Holder, accepted func() int) {
				waitFor(t, 3*time.Second, "every connection lost and dialled again twice", func() bool {
					st := h.Stats()
					return st.RequestErrors >= 2*n && st.Redials >= 2*n
				})
				st := h.Stats()
				if st.Held != 0 || !hasError(st, "closed by peer (Connection: close)") {
					t.Errorf("held %d, errors %q; want 0 held and the peer's close named", st.Held, st.Errors)
				}
				if got := accepted(); got < 3*n {
					t.Errorf("server accepted %d connections, want at least %d", got, 3*n)
				}
			},
		},
		{
			name: "answers 503",
			url: func(t *testing.T) (string, func() int) {
				srv := startHoldServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
				return srv.URL, func() int { news, _, _ := srv.conns(); return news }
			},
			check: func(t *testing.T, h *Holder, accepted func() int) {
				waitFor(t, 3*time.Second, "two failed requests per connection", func() bool { return h.Stats().RequestErrors >= 2*n })
				st := h.Stats()
				if st.Held != 0 || st.Open != n || st.Redials != 0 || st.Requests < 2*n || !hasError(st, "status 503") {
					t.Errorf("%+v: want none held, all %d open and kept, every answer counted, status 503 named", st, n)
				}
				if got := accepted(); got != n {
					t.Errorf("server accepted %d connections, want %d", got, n)
				}
			},
		},
		{
			name: "closes the socket unanswered",
			url: func(t *testing.T) (string, func() int) {
				return rawServer(t, func(c net.Conn, head string) { c.Close() }) + "/hold", nil
			},
			check: func(t *testing.T, h *Holder, _ func() int) {
				waitFor(t, 3*time.Second, "connections lost and dialled again", func() bool {
					st := h.Stats()
					return st.RequestErrors >= n && st.Redials >= n
				})
				st := h.Stats()
				if st.Held != 0 || st.Requests != 0 || !hasError(st, "read: closed by peer") {
					t.Errorf("%+v: want none held or answered, the peer's close named", st)
				}
			},
		},
		{
			name: "never accepts: the kernel's backlog is not a server",
			url:  func(t *testing.T) (string, func() int) { return silentListener(t), nil },
			check: func(t *testing.T, h *Holder, _ func() int) {
				waitFor(t, 3*time.Second, "every request to time out", func() bool { return h.Stats().RequestErrors >= n })
				st := h.Stats()
				if st.Held != 0 || st.Requests != 0 || !hasError(st, "read: i/o timeout") {
					t.Errorf("%+v: want none held or answered, timeouts named", st)
				}
			},
		},
		{
			name: "listener closed",
			url: func(t *testing.T) (string, func() int) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ln.Close()
				return "http://" + ln.Addr().String() + "/hold", nil
			},
			wantGrow: syscall.ECONNREFUSED,
			check: func(t *testing.T, h *Holder, _ func() int) {
				st := h.Stats()
				if st.Target != 0 || st.ConnectErrors < giveUpAfter || !hasError(st, "dial: connect: connection refused") {
					t.Errorf("%+v: want no connection, %d+ connect errors, refusals named", st, giveUpAfter)
				}
			},
		},
		{
			name: "stops accepting after 5",
			url: func(t *testing.T) (string, func() int) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				var conns []net.Conn
				done := make(chan struct{})
				go func() {
					defer close(done)
					defer ln.Close()
					for len(conns) < 5 {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						conns = append(conns, c)
					}
				}()
				t.Cleanup(func() {
					ln.Close()
					<-done
					for _, c := range conns {
						c.Close()
					}
				})
				return "http://" + ln.Addr().String() + "/hold", nil
			},
			rate:     200, // 5 ms apart: the listener is closed before the 6th dial
			wantGrow: syscall.ECONNREFUSED,
			check: func(t *testing.T, h *Holder, _ func() int) {
				if st := h.Stats(); st.Target < 5 || st.Target >= n {
					t.Errorf("%+v: want the 5 accepted (and at most a backlog's few more) kept", st)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, accepted := tc.url(t)
			rate := tc.rate
			if rate == 0 {
				rate = 20000
			}
			h := newTestHolder(t, HoldConfig{URL: url, Every: 100 * time.Millisecond, DialRate: rate, Timeout: 300 * time.Millisecond})
			err := grow(t, h, n)
			switch {
			case tc.wantGrow == nil && err != nil:
				t.Fatalf("Grow: %v", err)
			case tc.wantGrow != nil && !errors.Is(err, tc.wantGrow):
				t.Fatalf("Grow returned %v, want an error naming %v", err, tc.wantGrow)
			case tc.wantGrow != nil:
				var ge *GrowError
				if !errors.As(err, &ge) || ge.Want != n || ge.Open != h.Target() {
					t.Errorf("Grow returned %#v, want a *GrowError with want %d and open %d", err, n, h.Target())
				}
				t.Logf("Grow: %v", err)
			}
			tc.check(t, h, accepted)
			t.Logf("%+v", h.Stats())
		})
	}
}

func TestHoldGrowStopsAtTheFileLimit(t *testing.T) {
	url := silentListener(t) // no server end: the limit counts the holder's sockets alone
	h := newTestHolder(t, HoldConfig{URL: url, Every: time.Second, DialRate: 20000, Timeout: time.Second})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(restore)
	lowered := syscall.Rlimit{Cur: uint64(OpenFDs() + 30), Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	err := grow(t, h, 100)
	restore() // before anything else in this process needs a descriptor
	var ge *GrowError
	if !errors.Is(err, syscall.EMFILE) || !errors.As(err, &ge) || !strings.Contains(ge.Limit, "RLIMIT_NOFILE") {
		t.Fatalf("Grow returned %v, want EMFILE with the limit named", err)
	}
	if n := h.Target(); n < 20 || n > 35 {
		t.Errorf("%d connections kept, want the 30 or so the limit allowed", n)
	}
	t.Log(err)
}

func TestHolderCloseLeavesNothing(t *testing.T) {
	const n = 100
	cases := []struct {
		name string
		url  func(t *testing.T) (string, *atomic.Int64)
		// until is what to wait for before closing.
		until func(h *Holder, requests *atomic.Int64) bool
	}{
		{"answering server", func(t *testing.T) (string, *atomic.Int64) {
			srv := startHoldServer(t, answer)
			return srv.URL, &srv.requests
		}, func(h *Holder, _ *atomic.Int64) bool { return h.Stats().Held == n }},
		{"server that never answers: every request in flight", func(t *testing.T) (string, *atomic.Int64) {
			var requests atomic.Int64
			url := rawServer(t, func(c net.Conn, head string) {
				requests.Add(1)
				io.Copy(io.Discard, c) // until the holder closes it
			})
			return url + "/hold", &requests
		}, func(h *Holder, requests *atomic.Int64) bool { return requests.Load() == n }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, requests := tc.url(t)
			goroutines, fds := runtime.NumGoroutine(), OpenFDs()
			h, err := NewHolder(HoldConfig{URL: url, Every: 100 * time.Millisecond, DialRate: 20000, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Close)
			if err := grow(t, h, n); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 3*time.Second, "the connections in use", func() bool { return tc.until(h, requests) })

			start := time.Now()
			h.Close()
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Close took %s: it must not wait out requests in flight (timeout 10s)", d)
			}
			if st := h.Stats(); st.Open != 0 || st.Held != 0 {
				t.Errorf("after Close: %+v", st)
			}
			if err := h.Grow(context.Background(), n); !errors.Is(err, errHolderClosed) {
				t.Errorf("Grow after Close returned %v", err)
			}
			// The server's ends close as it notices the holder's: wait for both.
			waitFor(t, 3*time.Second, fmt.Sprintf("goroutines back to %d and descriptors to %d", goroutines, fds), func() bool {
				return runtime.NumGoroutine() <= goroutines && OpenFDs() <= fds
			})
		})
	}
}

func TestHolderCloseStopsGrow(t *testing.T) {
	h, err := NewHolder(HoldConfig{URL: silentListener(t), Every: time.Second, DialRate: 50, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Grow(context.Background(), 10000) }()
	waitFor(t, 2*time.Second, "a few connections", func() bool { return h.Target() >= 3 })
	h.Close()
	select {
	case err := <-done:
		if !errors.Is(err, errHolderClosed) {
			t.Errorf("Grow returned %v, want errHolderClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Grow did not return after Close")
	}
}

func TestHoldGrowHonoursItsContext(t *testing.T) {
	h := newTestHolder(t, HoldConfig{URL: silentListener(t), Every: time.Second, DialRate: 100, Timeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := h.Grow(ctx, 10000)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Grow returned %v, want the deadline", err)
	}
	if n := h.Target(); n == 0 || n > 30 {
		t.Errorf("%d connections in 100 ms at 100 dials/s", n)
	}
}

func TestHoldReadsResponses(t *testing.T) {
	cases := []struct {
		name     string
		response string
		code     int
		keep     bool
		err      string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 200, true, ""},
		{"chunked with trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\n{}\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n", 200, true, ""},
		{"no body", "HTTP/1.1 204 No Content\r\n\r\n", 204, true, ""},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", 200, false, ""},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", 200, false, ""},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}", 200, true, ""},
		{"delimited by the close", "HTTP/1.1 200 OK\r\n\r\n{}", 200, false, ""},
		{"status", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 503, true, ""},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\n", 0, false, "malformed"},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n", 0, false, "malformed"},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", 0, false, "EOF"},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, "chunk size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.response))
			code, keep, err := readHoldResponse(br)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || code != tc.code || keep != tc.keep {
				t.Fatalf("got %d keep=%v err=%v, want %d keep=%v", code, keep, err, tc.code, tc.keep)
			}
			if br.Buffered() != 0 {
				t.Errorf("%d bytes left unread", br.Buffered())
			}
		})
	}
}

func TestHoldErrorText(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080},
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		err  error
		want string
	}{
		{&phaseError{"dial", refused}, "dial: connect: connection refused"},
		{&phaseError{"read", io.EOF}, "read: closed by peer (EOF)"},
		{&phaseError{"write", syscall.EPIPE}, "write: closed by peer (broken pipe)"},
		{&phaseError{"read", &net.OpError{Op: "raw-read", Err: errTimeout{}}}, "read: i/o timeout"},
		{errors.New("status 503"), "status 503"},
	}
	for _, tc := range cases {
		if got := holdErrText(tc.err); got != tc.want {
			t.Errorf("holdErrText(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// errTimeout stands in for the poller's deadline error.
type errTimeout struct{}

func (errTimeout) Error() string { return "i/o timeout" }

// A new connection speaks at once: net/http's ReadHeaderTimeout counts
// from the accept, and a connection silent for longer than it is closed
// (chi's 5 s against Every=5s lost connections when the first request
// waited for a random phase).
func TestHoldFirstRequestBeatsTheHeaderTimeout(t *testing.T) {
	every := 600 * time.Millisecond
	ts := httptest.NewUnstartedServer(http.HandlerFunc(answer))
	ts.Config.ReadHeaderTimeout = every / 4
	ts.Start()
	t.Cleanup(ts.Close)
	h := newTestHolder(t, HoldConfig{URL: ts.URL + "/hold", Every: every, DialRate: 20000, Timeout: 2 * time.Second})
	if err := grow(t, h, 100); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "every connection to answer", func() bool { return h.Stats().Held == 100 })
	waitFor(t, 5*time.Second, "three cycles", func() bool { return h.Stats().Requests >= 300 })
	if st := h.Stats(); st.RequestErrors != 0 || st.Redials != 0 {
		t.Errorf("a server with a %s header timeout closed held connections: %+v", every/4, st)
	}
}
