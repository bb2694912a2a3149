package calibrate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/cpuset"
)

// refserverEnv makes the test binary the refserver command, so
// StartProcess can be tested without building the harness: the test passes
// os.Args[0] as exe and sets this variable for the child.
const refserverEnv = "CALIBRATE_TEST_REFSERVER"

func TestMain(m *testing.M) {
	if os.Getenv(refserverEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		args := os.Args[1:]
		if len(args) > 0 && args[0] == Subcommand {
			args = args[1:]
		}
		err := ServeCommand(ctx, args, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "refserver:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// modes are the two loops; correctness must not depend on which one runs.
var modes = []struct {
	name     string
	blocking bool
}{{"busy-poll", false}, {"blocking", true}}

func serve(t *testing.T, cfg ServerConfig) *Server {
	t.Helper()
	s, err := Serve(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// client is a keep-alive net/http client whose connections end with the test.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "http://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// readResponses reads n answers from a raw connection, in order.
func readResponses(t *testing.T, br *bufio.Reader, method string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d of %d: %v", i+1, n, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("response %d body: %v", i+1, err)
		}
		out = append(out, strconv.Itoa(resp.StatusCode)+" "+string(b))
	}
	return out
}

// wantEOF checks the server closed the connection (and sent nothing more).
func wantEOF(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("want the connection closed, got byte %q err %v", b, err)
	}
}

// The paths the contract defines must get exactly the contract handler's
// status and bytes; the quote only a valid-looking JSON 200.
func TestRoutesMatchTheContract(t *testing.T) {
	ref := contract.Handler()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, ServerConfig{Blocking: m.blocking})
			c := client(t)
			for _, path := range []string{"/json", "/health", "/users/1", "/users/42", "/users/042", "/users/10000",
				"/users/0", "/users/10001", "/users/-1", "/users/+42", "/users/abc", "/users/99999999999999999999"} {
				resp, body := get(t, c, s.URL()+path)
				rec := httptest.NewRecorder()
				ref.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if resp.StatusCode != rec.Code || string(body) != rec.Body.String() {
					t.Errorf("GET %s = %d %s\nwant %d %s", path, resp.StatusCode, body, rec.Code, rec.Body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("GET %s: Content-Type %q", path, ct)
				}
				if resp.ContentLength != int64(len(body)) {
					t.Errorf("GET %s: Content-Length %d for %d bytes", path, resp.ContentLength, len(body))
				}
			}
			if _, body := get(t, c, s.URL()+"/users/42"); string(body) != string(contract.UserJSON(42)) {
				t.Errorf("/users/42 = %s, want contract.UserJSON(42)", body)
			}
			// The compute kernel: the contract's default answer, whatever the query.
			want := contract.ComputeJSON(contract.ComputeParams{Rounds: contract.ComputeDefaultRounds, Top: contract.ComputeDefaultTop})
			for _, path := range []string{"/compute/rank", "/compute/rank?seed=42&rounds=64&top=10"} {
				if resp, body := get(t, c, s.URL()+path); resp.StatusCode != 200 || string(body) != string(want) {
					t.Errorf("GET %s = %d %s, want 200 %s", path, resp.StatusCode, body, want)
				}
			}
			// The other scenarios' paths: fixed answers of the contract's shape.
			for path, want := range map[string][]byte{
				"/gc/churn?seed=9&n=200":      contract.ChurnJSON(contract.ChurnParams{N: contract.ChurnDefaultN}),
				"/db/users/42":                contract.UserJSON(42),
				"/db/users/7/orders?limit=10": contract.SeedUserOrdersJSON(1, contract.OrdersDefaultLimit),
			} {
				if resp, body := get(t, c, s.URL()+path); resp.StatusCode != 200 || string(body) != string(want) {
					t.Errorf("GET %s = %d %s, want 200 %s", path, resp.StatusCode, body, want)
				}
			}
			for _, path := range []string{"/", "/nope", "/jsonx", "/users/", "/users/1/x", "/db/users/0", "/db/users/10001/orders", "/db/json"} {
				if resp, body := get(t, c, s.URL()+path); resp.StatusCode != 404 || string(body) != `{"error":"not found"}` {
					t.Errorf("GET %s = %d %s, want the JSON 404", path, resp.StatusCode, body)
				}
			}
			resp, err := c.Post(s.URL()+"/json", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("POST /json = %d, want 404", resp.StatusCode)
			}
			body := `{"customer_id":7,"items":[{"sku":"A","qty":1,"unit_price_cents":100}]}`
			resp, err = c.Post(s.URL()+"/orders/quote", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var q contract.Quote
			err = json.NewDecoder(resp.Body).Decode(&q)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil || q.Currency != "USD" || q.TotalCents != q.SubtotalCents+q.TaxCents {
				t.Errorf("POST /orders/quote = %d %+v (%v)", resp.StatusCode, q, err)
			}
			resp, err = c.Post(s.URL()+"/db/orders", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var p contract.PlacedOrder
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil || p.OrderID <= contract.SeedOrders || p.Currency != "USD" {
				t.Errorf("POST /db/orders = %d %+v (%v)", resp.StatusCode, p, err)
			}
			if got, want := s.Requests(), uint64(12+1+2+3+8+2+1); got != want {
				t.Errorf("Requests() = %d, want %d", got, want)
			}
		})
	}
}

// Exact bytes on the wire, headers included: a loader parses these.
func TestJSONBytes(t *testing.T) {
	s := serve(t, ServerConfig{})
	c := dial(t, s)
	if _, err := io.WriteString(c, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	want := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"message\":\"Hello, World!\"}"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// Many requests over one connection: every one after the first reuses it.
func TestKeepAlive(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, ServerConfig{Blocking: m.blocking})
			c := client(t)
			reused := 0
			for i := range 200 {
				var r bool
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { r = info.Reused }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.URL()+"/users/"+strconv.Itoa(i+1), nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != string(contract.UserJSON(i+1)) {
					t.Fatalf("request %d: %s", i+1, b)
				}
				if r {
					reused++
				}
			}
			if reused != 199 {
				t.Fatalf("%d of 199 requests reused the connection", reused)
			}
		})
	}
}

// A burst of pipelined requests written at once gets every answer, in order,
// and a request dribbled a byte at a time is answered like any other.
func TestPipelining(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, ServerConfig{Blocking: m.blocking})
			c := dial(t, s)
			var burst strings.Builder
			var want []string
			for i := range 300 {
				if i%3 == 0 {
					burst.WriteString("GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
					want = append(want, `200 {"message":"Hello, World!"}`)
					continue
				}
				fmt.Fprintf(&burst, "GET /users/%d HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n", i)
				want = append(want, "200 "+string(contract.UserJSON(i)))
			}
			if _, err := io.WriteString(c, burst.String()); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			if got := readResponses(t, br, "GET", len(want)); !slices.Equal(got, want) {
				t.Fatalf("pipelined answers out of order or wrong")
			}

			req := "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
			for i := range len(req) {
				if _, err := c.Write([]byte{req[i]}); err != nil {
					t.Fatal(err)
				}
			}
			if got := readResponses(t, br, "GET", 1); got[0] != `200 {"status":"ok"}` {
				t.Fatalf("dribbled request: %s", got[0])
			}
		})
	}
}

// A body is skipped by its Content-Length, even when it looks like a
// request and arrives in pieces; the next request on the connection is
// answered.
func TestPostBodySkipped(t *testing.T) {
	s := serve(t, ServerConfig{})
	c := dial(t, s)
	body := "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 100_000)
	head := fmt.Sprintf("POST /orders/quote HTTP/1.1\r\nHost: x\r\ncontent-length: %d\r\n\r\n", len(body))
	next := "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
	go func() {
		// In pieces: the server sees a head without its body first.
		for _, part := range []string{head + body[:10], body[10:70_000], body[70_000:] + next} {
			if _, err := io.WriteString(c, part); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(c)
	got := readResponses(t, br, "POST", 2)
	if !strings.HasPrefix(got[0], `200 {"customer_id"`) || got[1] != `200 {"message":"Hello, World!"}` {
		t.Fatalf("answers %q", got)
	}
	if n := s.Requests(); n != 2 {
		t.Fatalf("Requests() = %d, want 2: the body was parsed as requests", n)
	}
}

// "Connection: close" (and HTTP/1.0) is answered, with the header, and then
// the connection is closed; a request after it on the same write is ignored.
func TestConnectionClose(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := serve(t, ServerConfig{Blocking: m.blocking})
			for _, req := range []string{
				"GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /health HTTP/1.1\r\n\r\n",
				"GET /json HTTP/1.1\r\nHost: x\r\nconnection: Keep-Alive, Close\r\n\r\n",
				"GET /json HTTP/1.0\r\n\r\n",
			} {
				c := dial(t, s)
				if _, err := io.WriteString(c, req); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("%q: %v", req, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != `{"message":"Hello, World!"}` || !resp.Close {
					t.Errorf("%q: %d %s, close header %v", req, resp.StatusCode, b, resp.Close)
				}
				wantEOF(t, br)
			}

			// And through net/http: the client sees the close and its
			// next request opens a new connection.
			c := client(t)
			req, _ := http.NewRequest("GET", s.URL()+"/health", nil)
			req.Close = true
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !resp.Close {
				t.Fatalf("net/http Connection: close: %d, close %v", resp.StatusCode, resp.Close)
			}
		})
	}
}

// What the server does not support is refused with a 400 and a close,
// not misparsed.
func TestBadRequests(t *testing.T) {
	s := serve(t, ServerConfig{})
	for _, req := range []string{
		"POST /orders/quote HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /json HTTP/2.0\r\n\r\n",
		"NONSENSE\r\n\r\n",
		"GET /json HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
		"GET /json HTTP/1.1\r\nno colon here\r\n\r\n",
		"GET /json HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n",
		"GET /json HTTP/1.1\r\nX-Long: " + strings.Repeat("a", maxRequest+10),
	} {
		c := dial(t, s)
		go io.WriteString(c, req) // the server may close before it has read it all
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%.60q: %v", req, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || string(b) != `{"error":"bad request"}` {
			t.Errorf("%.60q: %d %s, want 400", req, resp.StatusCode, b)
		}
		wantEOF(t, br)
	}
}

// HEAD gets the headers of the GET answer and no body, so the connection
// stays in step.
func TestHead(t *testing.T) {
	s := serve(t, ServerConfig{})
	c := dial(t, s)
	if _, err := io.WriteString(c, "HEAD /users/7 HTTP/1.1\r\nHost: x\r\n\r\nGET /json HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(contract.UserJSON(7))) {
		t.Fatalf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	if got := readResponses(t, br, "GET", 1); got[0] != `200 {"message":"Hello, World!"}` {
		t.Fatalf("after HEAD: %s", got[0])
	}
}

// The per-request path allocates nothing, so a long run never calls the
// garbage collector into the loop: parsing and answering what vegeta, wrk
// and a POST send, keep-alive, several requests per read.
func TestParseDoesNotAllocate(t *testing.T) {
	s := &Server{resp: responses()}
	c := &conn{}
	in := []byte("GET /users/4242 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n" +
		"GET /json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\n\r\n" +
		"POST /orders/quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\":123}" +
		"HEAD /health HTTP/1.1\r\n\r\n")
	s.parse(c, in, 0) // grows c.out once
	allocs := testing.AllocsPerRun(100, func() {
		c.out = c.out[:0]
		if n := s.parse(c, in, 0); n != len(in) {
			t.Fatalf("parsed %d of %d bytes", n, len(in))
		}
	})
	if allocs != 0 || c.noMore {
		t.Fatalf("%v allocations per batch of 4 requests (noMore %v), want 0", allocs, c.noMore)
	}
	if got := strings.Count(string(c.out), "HTTP/1.1 200 OK"); got != 4 {
		t.Fatalf("%d answers, want 4:\n%s", got, c.out)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close (and a cancelled ctx) ends the loop goroutine, closes open
// connections and releases the port.
func TestCloseReleasesEverything(t *testing.T) {
	for _, how := range []string{"Close", "ctx"} {
		t.Run(how, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := Serve(ctx, ServerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			addr := strings.TrimPrefix(s.URL(), "http://")
			c := dial(t, s)
			if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			readResponses(t, br, "GET", 1)

			if how == "Close" {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel()
				select {
				case <-s.done:
				case <-time.After(5 * time.Second):
					t.Fatal("the loop did not stop within 5s of the ctx being cancelled")
				}
			}
			wantEOF(t, br)
			waitFor(t, "the port is still held", 5*time.Second, func() bool {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return false
				}
				ln.Close()
				return true
			})
			waitFor(t, "goroutines left running", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
			if err := s.Close(); err != nil { // a second Close is harmless
				t.Fatal(err)
			}
		})
	}
}

// latencies times n sequential GETs of /json over one keep-alive
// connection, a blocking loop of write and read-the-known-length: the least
// client overhead Go allows (a net/http client adds about 0.2 ms per
// request under -race).
func latencies(t *testing.T, s *Server, n int) []time.Duration {
	t.Helper()
	c := dial(t, s)
	_ = c.SetDeadline(time.Now().Add(time.Duration(n) * 100 * time.Millisecond))
	req := []byte("GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
	want := responses().json.b
	got := make([]byte, len(want))
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		out[i] = time.Since(start)
		if string(got) != string(want) {
			t.Fatalf("request %d: %q", i, got)
		}
	}
	slices.Sort(out)
	return out
}

// The injected service time is what a client measures: never less than
// Delay, and at the median no more than the client's own overhead above it.
// Busy-poll holds it to about a microsecond on a CPU of its own; blocking
// mode adds the timer's wake-up, tens of µs here, hence its wider bound.
//
// A busy-polling thread that shares its CPU with another busy one (a
// compile, another test binary) waits for its turn, up to milliseconds, so
// a run that misses the bound is measured again, up to three times. A
// server that ignores the delay, rounds it to the millisecond or serialises
// it misses every time; nothing may ever come back early.
func TestDelay(t *testing.T) {
	const delay, attempts = 2 * time.Millisecond, 3
	for _, tc := range []struct {
		name     string
		blocking bool
		max      time.Duration
	}{{"busy-poll", false, 2300 * time.Microsecond}, {"blocking", true, 2500 * time.Microsecond}} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, ServerConfig{Delay: delay, Blocking: tc.blocking})
			var medians []time.Duration
			for range attempts {
				lat := latencies(t, s, 200)
				med := lat[len(lat)/2]
				mean, maxLate := s.Lateness()
				t.Logf("client: min %s median %s p90 %s max %s; server lateness so far mean %s max %s",
					lat[0], med, lat[len(lat)*9/10], lat[len(lat)-1], mean, maxLate)
				if lat[0] < delay {
					t.Fatalf("fastest answer %s came before the %s delay", lat[0], delay)
				}
				if med <= tc.max {
					return
				}
				medians = append(medians, med)
			}
			t.Errorf("medians %v in %d runs, want one within [%s, %s]", medians, attempts, delay, tc.max)
		})
	}
}

// A delayed answer holds only its own connection: 20 clients asking at once
// all get theirs about one Delay later, not one after the other.
func TestDelayDoesNotSerialize(t *testing.T) {
	const delay, clients = 100 * time.Millisecond, 20
	s := serve(t, ServerConfig{Delay: delay})
	conns := make([]net.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, s)
	}
	start := time.Now()
	for _, c := range conns {
		if _, err := io.WriteString(c, "GET /json HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		got := readResponses(t, bufio.NewReader(c), "GET", 2)
		if got[0] != `200 {"message":"Hello, World!"}` || got[1] != `200 {"status":"ok"}` {
			t.Fatalf("client %d: %q", i, got)
		}
	}
	// Serialised, the last would come after 40 delays (4 s).
	if took := time.Since(start); took < delay || took > 3*delay {
		t.Fatalf("%d clients with 2 pipelined requests each took %s, want about %s", clients, took, delay)
	}
}

func TestStartProcess(t *testing.T) {
	t.Setenv(refserverEnv, "1")
	cpus, err := cpuset.Online()
	if err != nil {
		t.Fatal(err)
	}
	last := cpus[len(cpus)-1:]
	p, err := StartProcess(context.Background(), os.Args[0], ServerConfig{Delay: time.Millisecond}, last)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })

	resp, body := get(t, client(t), p.URL()+"/users/42")
	if resp.StatusCode != 200 || string(body) != string(contract.UserJSON(42)) {
		t.Fatalf("GET /users/42 from the process: %d %s", resp.StatusCode, body)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Cpus_allowed_list:\t" + cpuset.List(last) + "\n"; !strings.Contains(string(status), want) {
		t.Errorf("process not pinned to %v:\n%s", last, status)
	}

	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := syscall.Kill(p.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still there after Stop (kill 0: %v)", p.PID(), err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(p.URL(), "http://"), time.Second); err == nil {
		t.Errorf("%s still answers after Stop", p.URL())
	}
}

func TestStartProcessStoppedByContext(t *testing.T) {
	t.Setenv(refserverEnv, "1")
	ctx, cancel := context.WithCancel(context.Background())
	p, err := StartProcess(ctx, os.Args[0], ServerConfig{Blocking: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitFor(t, "the process outlived its context", 5*time.Second, func() bool {
		return syscall.Kill(p.PID(), 0) != nil
	})
	if err := p.Stop(); err != nil {
		t.Fatalf("stop after ctx: %v", err)
	}
}

// A server that cannot start says why, with its stderr.
func TestStartProcessReportsFailure(t *testing.T) {
	t.Setenv(refserverEnv, "1")
	_, err := StartProcess(context.Background(), os.Args[0], ServerConfig{Addr: "10.255.255.1:1"}, nil)
	if err == nil || !strings.Contains(err.Error(), "bind") {
		t.Fatalf("err = %v, want a bind failure with the child's stderr", err)
	}
}

// BenchmarkServer is the throughput sanity check (not a test: its figures
// depend on the machine). A Go client on the same machine is slower than
// the server, so these are lower bounds for the server; wrk gives the real
// figure (see the package's calibration notes). Per op: one request.
func BenchmarkServer(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", depth), func(b *testing.B) {
			s, err := Serve(context.Background(), ServerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte(strings.Repeat("GET /json HTTP/1.1\r\nHost: x\r\n\r\n", depth))
			answer := make([]byte, depth*len(responses().json.b))
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, answer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
