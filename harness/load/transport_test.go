package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/contract"
)

// do sends one request through tr and drains it as vegeta does.
func do(t *testing.T, tr *Transport, method, url string, body []byte) (*http.Response, error) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// countConns wraps a test server's listener to count accepted connections.
func countConns(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestTransportReadsEveryResponseFraming(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "27")
		w.Write([]byte(`{"message":"Hello, World!"}`))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ { // flushed writes: chunked framing
			fmt.Fprintf(w, "chunk-%d;", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.Error(w, `{"error":"not found"}`, 404) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	conns := countConns(srv)

	tr := &Transport{MaxConns: 4, Timeout: 2 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	cases := []struct {
		path   string
		code   int
		length int64
		status string
	}{
		{"/length", 200, 27, "200 OK"},
		{"/chunked", 200, int64(len("chunk-0;") * 5), "200 OK"},
		{"/empty", 204, 0, "204 No Content"},
		{"/missing", 404, int64(len(`{"error":"not found"}` + "\n")), "404 Not Found"},
		{"/length", 200, 27, "200 OK"},
	}
	for _, c := range cases {
		resp, err := do(t, tr, "GET", srv.URL+c.path, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if resp.StatusCode != c.code || resp.ContentLength != c.length || resp.Status != c.status {
			t.Fatalf("%s: got %d %q length %d, want %d %q length %d", c.path, resp.StatusCode, resp.Status, resp.ContentLength, c.code, c.status, c.length)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for %d sequential keep-alive requests, want 1", n, len(cases))
	}
	// Connection: close from the server: answered, then a new connection.
	for i := 0; i < 3; i++ {
		if resp, err := do(t, tr, "GET", srv.URL+"/close", nil); err != nil || resp.ContentLength != 3 {
			t.Fatalf("/close: %v %+v", err, resp)
		}
	}
	if _, err := do(t, tr, "GET", srv.URL+"/length", nil); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 4 {
		t.Fatalf("%d connections after 3 answers with Connection: close, want 4", n)
	}
	if open := tr.OpenConns(); open != 1 {
		t.Fatalf("%d connections open, want 1", open)
	}
	tr.CloseIdleConnections()
	if open := tr.OpenConns(); open != 0 {
		t.Fatalf("%d connections open after CloseIdleConnections", open)
	}
}

// The contract's POST bodies arrive whole, with their length, and a quote
// is priced as the reference handler prices it.
func TestTransportSendsBodies(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(fmt.Sprintf("%s %s %d %s %s", r.Method, r.URL.Path, r.ContentLength, r.Header.Get("Content-Type"), b))
		contract.Handler().ServeHTTP(w, &http.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: io.NopCloser(bytes.NewReader(b)), Proto: r.Proto, ProtoMajor: 1, ProtoMinor: 1})
	}))
	t.Cleanup(srv.Close)
	tr := &Transport{MaxConns: 1, Timeout: 2 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	for i, order := range contract.SampleOrders()[:3] {
		resp, err := do(t, tr, "POST", srv.URL+"/orders/quote", order)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("POST /orders/quote %d application/json %s", len(order), order)
		if got.Load() != want || resp.StatusCode != 200 {
			t.Fatalf("order %d: server saw %q (status %d), want %q", i, got.Load(), resp.StatusCode, want)
		}
	}
	if resp, err := do(t, tr, "POST", srv.URL+"/orders/quote", []byte(`{"items":[]`)); err != nil || resp.StatusCode != 400 {
		t.Fatalf("bad JSON: %v %+v", err, resp)
	}
}

// rawServer answers each connection with handle, which sees the request head.
func rawServer(t *testing.T, handle func(c net.Conn, head string)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					handle(c, head.String())
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestTransportErrorsAndTimeouts(t *testing.T) {
	cases := []struct {
		name   string
		handle func(c net.Conn, head string)
		want   string
	}{
		{"closed before answering", func(c net.Conn, head string) { c.Close() }, "EOF"},
		{"truncated body", func(c net.Conn, head string) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
			c.Close()
		}, "EOF"},
		{"not HTTP", func(c net.Conn, head string) { io.WriteString(c, "SSH-2.0-OpenSSH\r\n") }, "malformed"},
		{"bad chunk", func(c net.Conn, head string) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
		}, "chunk size"},
		{"never answers", func(c net.Conn, head string) { time.Sleep(500 * time.Millisecond); c.Close() }, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := rawServer(t, c.handle)
			tr := &Transport{MaxConns: 2, Timeout: 200 * time.Millisecond}
			t.Cleanup(tr.CloseIdleConnections)
			start := time.Now()
			_, err := do(t, tr, "GET", url+"/json", nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one mentioning %q", err, c.want)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("took %s with a 200 ms timeout", time.Since(start))
			}
			if n := tr.OpenConns(); n != 0 {
				t.Fatalf("%d connections kept after an error", n)
			}
		})
	}
}

// The request is written as a server expects it: request line, Host,
// headers, and no body on a GET.
func TestTransportWritesRequests(t *testing.T) {
	heads := make(chan string, 4)
	url := rawServer(t, func(c net.Conn, head string) {
		heads <- head
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	})
	tr := &Transport{MaxConns: 1, Timeout: time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequest("GET", url+"/users/42?x=1", nil)
	req.Header.Set("X-Vegeta-Seq", "7")
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}
	head := <-heads
	host := strings.TrimPrefix(url, "http://")
	for _, want := range []string{"GET /users/42?x=1 HTTP/1.1\r\n", "Host: " + host + "\r\n", "X-Vegeta-Seq: 7\r\n"} {
		if !strings.Contains(head, want) {
			t.Fatalf("request head %q lacks %q", head, want)
		}
	}
	if strings.Contains(head, "Content-Length") {
		t.Fatalf("a GET with no body sent a Content-Length: %q", head)
	}
}

// Connections follow the load's concurrency: idle ones are reused last in,
// first out, so a burst's extra connections are not kept warm by rotation,
// and the cap is never exceeded; waiters get connections back.
func TestTransportCapsAndReusesConnections(t *testing.T) {
	release := make(chan struct{})
	var inHandler atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			inHandler.Add(1)
			<-release
		}
		w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	conns := countConns(srv)
	tr := &Transport{MaxConns: 3, Timeout: 5 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)

	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ { // 6 requests, 3 connections: 3 wait
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL+"/slow", nil)
			_, err := tr.RoundTrip(req)
			errs <- err
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for inHandler.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := tr.OpenConns(); n != 3 {
		t.Fatalf("%d connections open under 6 concurrent requests, want the cap of 3", n)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections accepted, want 3", n)
	}
	// Sequential requests now use one connection, the last one returned.
	for i := 0; i < 20; i++ {
		if _, err := do(t, tr, "GET", srv.URL+"/fast", nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections accepted after sequential requests, want still 3", n)
	}
}

// Sequential requests after a burst reuse the most recently returned
// connection, or, rotating, take the open connections in turn.
func TestTransportConnectionReuse(t *testing.T) {
	cases := []struct {
		name   string
		rotate bool
		want   []int // requests per connection, sorted
	}{
		{"most recent", false, []int{12}},
		{"rotating", true, []int{4, 4, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hold sync.WaitGroup
			hold.Add(3)
			var mu sync.Mutex
			byConn := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/burst" { // open three connections: each answers once all three are in
					hold.Done()
					hold.Wait()
				} else {
					mu.Lock()
					byConn[r.RemoteAddr]++
					mu.Unlock()
				}
				w.Write([]byte("{}"))
			}))
			t.Cleanup(srv.Close)
			tr := &Transport{MaxConns: 3, Timeout: 5 * time.Second, Rotate: c.rotate}
			t.Cleanup(tr.CloseIdleConnections)
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := do(t, tr, "GET", srv.URL+"/burst", nil); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			for range 12 {
				if _, err := do(t, tr, "GET", srv.URL+"/next", nil); err != nil {
					t.Fatal(err)
				}
			}
			var got []int
			for _, n := range byConn {
				got = append(got, n)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("requests per connection %v, want %v", got, c.want)
			}
		})
	}
}

func TestTransportHonoursContext(t *testing.T) {
	url := rawServer(t, func(c net.Conn, head string) { time.Sleep(500 * time.Millisecond); c.Close() })
	tr := &Transport{MaxConns: 1, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	// One request holds the only connection; a second waits for it and is
	// cancelled while waiting.
	go func() {
		req, _ := http.NewRequest("GET", url+"/a", nil)
		_, _ = tr.RoundTrip(req)
	}()
	deadline := time.Now().Add(2 * time.Second)
	for tr.OpenConns() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/b", nil)
	start := time.Now()
	if _, err := tr.RoundTrip(req); err == nil || time.Since(start) > time.Second {
		t.Fatalf("err %v after %s, want a context error after 100 ms", err, time.Since(start))
	}
}

// A request with no idle connection takes the first that comes back rather
// than waiting for its own dial: at high rates a hiccup otherwise turned
// into a dial per queued request, each making the queue longer.
func TestTransportPrefersAReturningConnectionToADial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	t.Cleanup(srv.Close)
	const dialDelay = 2 * time.Second
	var dials atomic.Int64
	tr := &Transport{MaxConns: 50, Timeout: 10 * time.Second}
	tr.dialer = func(network, addr string) (net.Conn, error) {
		if dials.Add(1) > 1 {
			time.Sleep(dialDelay) // every dial after the first is slow
		}
		return net.Dial(network, addr)
	}
	t.Cleanup(tr.Close)
	if _, err := do(t, tr, "GET", srv.URL+"/", nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			_, err := tr.RoundTrip(req)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took >= dialDelay {
		t.Fatalf("20 concurrent requests took %s: they waited for dials (%s each) instead of the connection that came back", took, dialDelay)
	}
	if n := dials.Load(); n > 1+maxParallelDials {
		t.Fatalf("%d dials for 20 queued requests, want at most %d at a time", n, maxParallelDials)
	}
}

// A target that refuses connections fails requests at once with the dial's
// error, not after the timeout; a closed transport refuses requests.
func TestTransportReportsDialFailuresAndClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	tr := &Transport{MaxConns: 4, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			req, _ := http.NewRequest("GET", url+"/", nil)
			_, err := tr.RoundTrip(req)
			if err == nil || !strings.Contains(err.Error(), "dial") || time.Since(start) > 5*time.Second {
				t.Errorf("err %v after %s, want a dial error at once", err, time.Since(start))
			}
		}()
	}
	wg.Wait()
	tr.Close()
	req, _ := http.NewRequest("GET", url+"/", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, errTransportClosed) {
		t.Fatalf("after Close: %v, want %v", err, errTransportClosed)
	}
}
