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
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Transport is the loader's HTTP/1.1 client: keep-alive connections, one
// request in flight per connection, the response read in the calling
// goroutine and drained before RoundTrip returns. It exists because
// net/http's Transport costs about 3x wrk's CPU per request (a background
// read loop and write loop per connection, channel hand-offs, header maps):
// with it, the loader and not the target was what a peak search measured.
//
// What it does not do, on purpose: TLS, proxies, HTTP/2, redirects,
// compression, 1xx responses. Response bodies are drained, not returned
// (the Response carries an empty body and the real ContentLength): bodies
// are `harness verify`'s business, not the loader's.
type Transport struct {
	// MaxConns caps the connections open at once (per host).
	MaxConns int
	// Timeout bounds one request: connection wait, dial, write and read.
	Timeout time.Duration
	// Rotate reuses the longest-idle connection instead of the most
	// recently used one, spreading requests over every connection open, as
	// oha and wrk do. A target's CPU per request depends on it: chi on a
	// third of a CPU at 10,667 req/s over 100 connections used 89-108 CPU
	// ticks in 4 s with the most recent reused, 97-120 rotating, and 109-117
	// under oha.
	Rotate bool
	// spin, if set, lets a request whose loader is otherwise idle poll its
	// socket for the response instead of parking: an idle CPU here wakes
	// 30-100 µs late, which a parked reader would add to every latency.
	spin *spin
	// dialer, if set, replaces net.Dialer (tests slow a dial down with it).
	dialer func(network, addr string) (net.Conn, error)
	// arrived keeps when each response reached the socket (Arrival).
	arrived arrivals

	mu     sync.Mutex
	pools  map[string]*pool
	closed bool
}

// pool keeps a host's connections. Idle ones form a stack (last in, first
// out) so the connections in use track the load's real concurrency: a
// queue would rotate through every connection ever opened, keeping all of
// them open and cold. Transport.Rotate makes it that queue.
type pool struct {
	addr    string
	host    string
	max     int
	rotate  bool
	mu      sync.Mutex
	idle    []*conn
	open    map[*conn]struct{}
	timeout time.Duration // bounds one dial
	dialer  func(network, addr string) (net.Conn, error)
	dialing int
	dials   sync.WaitGroup
	waiters []chan handoff // FIFO
	closed  bool
}

type conn struct {
	nc   net.Conn
	raw  syscall.RawConn
	br   *bufio.Reader
	rd   spinReader
	wbuf []byte
	p    *pool
	// stamps says the socket has SO_TIMESTAMPNS on; stamp is the kernel's
	// receive time (Unix ns) of the data last read, 0 if none came with it.
	stamps bool
	stamp  int64
}

var (
	errTransportClosed = errors.New("transport closed")
	errMalformed       = errors.New("malformed HTTP response")
)

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, fmt.Errorf("load transport: scheme %q not supported", req.URL.Scheme)
	}
	deadline := time.Now().Add(t.Timeout)
	p, err := t.pool(req.URL.Host)
	if err != nil {
		return nil, err
	}
	c, err := p.get(req.Context(), deadline, t)
	if err != nil {
		return nil, err
	}
	if t.spin != nil {
		t.spin.inflight.Add(1)
		defer t.spin.inflight.Add(-1)
	}
	resp, keep, err := c.roundTrip(req, deadline, t.spin)
	if err == nil && c.stamp != 0 {
		if seq, ok := requestSeq(req.Header); ok {
			t.arrived.put(seq, c.stamp)
		}
	}
	if err != nil || !keep {
		p.discard(c)
	} else {
		p.put(c)
	}
	return resp, err
}

// Arrival is when the last byte of the response to vegeta's request seq
// reached the loader's socket, by the kernel's clock; false if unknown.
func (t *Transport) Arrival(seq uint64) (time.Time, bool) { return t.arrived.get(seq) }

// CloseIdleConnections closes every connection not in use. After a step
// every connection is idle, so this closes the step's connections: a target
// must not carry one step's connections into the next.
func (t *Transport) CloseIdleConnections() {
	for _, p := range t.allPools(false) {
		p.closeIdle()
	}
}

// Close closes every connection, each busy one as its request ends, and
// waits for dials under way; requests after it fail.
func (t *Transport) Close() {
	for _, p := range t.allPools(true) {
		p.close()
	}
}

// allPools lists the pools, first marking the transport closed if asked.
func (t *Transport) allPools(closing bool) []*pool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = t.closed || closing
	pools := make([]*pool, 0, len(t.pools))
	for _, p := range t.pools {
		pools = append(pools, p)
	}
	return pools
}

// OpenConns is how many connections are open now, over all hosts.
func (t *Transport) OpenConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.pools {
		p.mu.Lock()
		n += len(p.open)
		p.mu.Unlock()
	}
	return n
}

func (t *Transport) pool(hostport string) (*pool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errTransportClosed
	}
	if p, ok := t.pools[hostport]; ok {
		return p, nil
	}
	if t.pools == nil {
		t.pools = map[string]*pool{}
	}
	p := &pool{addr: hostport, host: hostport, max: max(t.MaxConns, 1), rotate: t.Rotate, timeout: t.Timeout, dialer: t.dialer, open: map[*conn]struct{}{}}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		p.addr = net.JoinHostPort(hostport, "80")
	}
	t.pools[hostport] = p
	return p, nil
}

// get returns the most recently used idle connection (the longest idle one
// when rotating), or else waits for
// the first of: a connection coming back, or one dialled for it. Dials run
// in the background, a few at a time: a loader that dialled in the
// request's path turned a millisecond's hiccup at 30K req/s into hundreds
// of dials, each making the backlog longer, and ended with every allowed
// connection open and p99 at tens of ms (measured against the reference
// server: the same rate on a warm pool held p99 under 1 ms).
func (p *pool) get(ctx context.Context, deadline time.Time, t *Transport) (*conn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		i := n - 1
		if p.rotate {
			i = 0
		}
		c := p.idle[i]
		p.idle = slices.Delete(p.idle, i, i+1)
		p.mu.Unlock()
		return c, nil
	}
	if p.closed {
		p.mu.Unlock()
		return nil, errTransportClosed
	}
	ch := make(chan handoff, 1)
	p.waiters = append(p.waiters, ch)
	p.dialMoreLocked()
	p.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case h := <-ch:
		return h.c, h.err
	case <-ctx.Done():
		return nil, p.abandon(ch, ctx.Err())
	case <-timer.C:
		return nil, p.abandon(ch, fmt.Errorf("no connection free within %s (%d open)", t.Timeout, p.max))
	}
}

// handoff is what a waiter is given: a connection, or why a dial failed.
type handoff struct {
	c   *conn
	err error
}

// maxParallelDials bounds the dials in progress per host.
const maxParallelDials = 4

// dialMoreLocked starts dials while waiters outnumber them, under the cap.
func (p *pool) dialMoreLocked() {
	for len(p.waiters) > p.dialing && p.dialing < maxParallelDials && len(p.open)+p.dialing < p.max {
		p.dialing++
		p.dials.Add(1)
		go p.dial()
	}
}

// abandon withdraws a waiter; one that was handed a connection meanwhile
// passes it on.
func (p *pool) abandon(ch chan handoff, err error) error {
	p.mu.Lock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.mu.Unlock()
			return err
		}
	}
	p.mu.Unlock()
	if h := <-ch; h.c != nil {
		p.put(h.c)
	}
	return err
}

// dial opens a connection in a slot already counted in p.dialing and gives
// it to the first waiter, or to the idle stack; a failure goes to the first
// waiter, so that a target that refuses connections fails requests at once.
func (p *pool) dial() {
	defer p.dials.Done()
	dial := p.dialer
	if dial == nil {
		dial = (&net.Dialer{Timeout: p.timeout}).Dial
	}
	nc, err := dial("tcp", p.addr)
	p.mu.Lock()
	p.dialing--
	if err != nil {
		err = fmt.Errorf("dial %s: %w", p.addr, err)
		if len(p.waiters) > 0 {
			ch := p.waiters[0]
			p.waiters = p.waiters[1:]
			ch <- handoff{err: err}
		}
		p.dialMoreLocked()
		p.mu.Unlock()
		return
	}
	if p.closed {
		p.mu.Unlock()
		_ = nc.Close()
		return
	}
	c := &conn{nc: nc, p: p, wbuf: make([]byte, 0, 512)}
	p.open[c] = struct{}{}
	p.mu.Unlock()
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	if c.raw != nil {
		keepStamping()
		_ = c.raw.Control(func(fd uintptr) {
			c.stamps = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
		})
	}
	c.rd = spinReader{c: c}
	c.br = bufio.NewReaderSize(&c.rd, 4096)
	p.put(c)
}

// put returns a healthy connection: to the first waiter, or the stack.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		ch <- handoff{c: c}
		return
	}
	if p.closed {
		p.mu.Unlock()
		p.discard(c)
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// discard closes a connection that must not be reused, and lets a waiter's
// dial take its slot.
func (p *pool) discard(c *conn) {
	_ = c.nc.Close()
	p.mu.Lock()
	delete(p.open, c)
	if !p.closed {
		p.dialMoreLocked()
	}
	p.mu.Unlock()
}

// close stops the pool: idle connections are closed now, busy ones when
// they come back, and dials under way when they finish; it waits for those.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeIdle()
	p.dials.Wait()
}

func (p *pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		p.discard(c)
	}
}

// roundTrip writes req and reads its response. keep says whether the
// connection may carry another request.
func (c *conn) roundTrip(req *http.Request, deadline time.Time, spin *spin) (*http.Response, bool, error) {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, false, err
	}
	if err := c.writeRequest(req); err != nil {
		return nil, false, fmt.Errorf("write request: %w", err)
	}
	c.rd.spin = spin
	c.stamp = 0
	resp, keep, err := c.readResponse(req)
	c.rd.spin = nil
	if err != nil {
		return nil, false, fmt.Errorf("read response: %w", err)
	}
	return resp, keep, nil
}

func (c *conn) writeRequest(req *http.Request) error {
	b := c.wbuf[:0]
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	host := req.Host
	if host == "" {
		host = c.p.host
	}
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		if k == "Host" || k == "Content-Length" || k == "Connection" {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if req.Close {
		b = append(b, "Connection: close\r\n"...)
	}
	if req.Body != nil && req.Body != http.NoBody {
		start := len(b)
		var err error
		if b, err = appendAll(b, req.Body); err != nil {
			return fmt.Errorf("read request body: %w", err)
		}
		body := append([]byte(nil), b[start:]...) // rare path kept simple: bodies are small
		b = b[:start]
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n\r\n"...)
		b = append(b, body...)
	} else {
		if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
			b = append(b, "Content-Length: 0\r\n"...)
		}
		b = append(b, "\r\n"...)
	}
	c.wbuf = b
	if c.raw == nil {
		_, err := c.nc.Write(b)
		return err
	}
	return writeRaw(c.raw, b)
}

func appendAll(b []byte, r io.ReadCloser) ([]byte, error) {
	defer r.Close()
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// readResponse parses the status line and headers and drains the body
// (Content-Length, chunked, or until close).
func (c *conn) readResponse(req *http.Request) (*http.Response, bool, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return nil, false, fmt.Errorf("%w: status line %q", errMalformed, trim(line))
	}
	code, ok := atoi3(line[9:12])
	if !ok {
		return nil, false, fmt.Errorf("%w: status line %q", errMalformed, trim(line))
	}
	keep := line[7] == '1' // HTTP/1.1 defaults to keep-alive, 1.0 to close
	resp := &http.Response{StatusCode: code, Status: statusText(code, line), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: http.NoBody, ContentLength: -1, Request: req}
	if line[7] == '0' {
		resp.Proto, resp.ProtoMinor = "HTTP/1.0", 0
	}
	chunked := false
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return nil, false, err
		}
		h = trim(h)
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon <= 0 {
			return nil, false, fmt.Errorf("%w: header line %q", errMalformed, h)
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return nil, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
			resp.ContentLength = n
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
			if !chunked {
				return nil, false, fmt.Errorf("%w: unsupported Transfer-Encoding %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	if req.Close {
		keep = false
	}
	switch {
	case req.Method == http.MethodHead || code == 204 || code == 304 || code/100 == 1:
		resp.ContentLength = 0
	case chunked:
		n, err := c.drainChunked()
		if err != nil {
			return nil, false, err
		}
		resp.ContentLength = n
	case resp.ContentLength >= 0:
		if _, err := c.br.Discard(int(resp.ContentLength)); err != nil {
			return nil, false, err
		}
	default: // delimited by the server closing the connection
		n, err := io.Copy(io.Discard, c.br)
		if err != nil {
			return nil, false, err
		}
		resp.ContentLength, keep = n, false
	}
	return resp, keep, nil
}

func (c *conn) drainChunked() (int64, error) {
	var total int64
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		line = trim(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			for { // trailers, then the empty line
				t, err := c.br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				if len(trim(t)) == 0 {
					return total, nil
				}
			}
		}
		if _, err := c.br.Discard(int(size)); err != nil {
			return total, err
		}
		total += size
		if crlf, err := c.br.ReadSlice('\n'); err != nil || len(trim(crlf)) != 0 {
			return total, fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
		}
	}
}

// spinReader reads the connection. While the loader is otherwise idle it
// polls the socket with non-blocking reads, yielding between polls, rather
// than parking the goroutine: from idle, this CPU would take tens of µs to
// wake for the response, and that delay would be counted as the target's.
type spinReader struct {
	c    *conn
	spin *spin
}

func (r *spinReader) Read(p []byte) (int, error) {
	if r.c.raw == nil {
		return r.c.nc.Read(p)
	}
	if s := r.spin; s != nil && s.allowed() {
		if n, err, ok := r.poll(p, s); ok {
			return n, err
		}
	}
	n, err := r.c.readWait(p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// poll tries non-blocking reads until data arrives, the spin budget is
// spent or the loader gets busy. ok is false when the caller should block.
func (r *spinReader) poll(p []byte, s *spin) (n int, err error, ok bool) {
	start := time.Now()
	for resumed := start; ; resumed = time.Now() {
		var rerr error
		cerr := r.c.raw.Read(func(fd uintptr) bool {
			n, rerr = r.c.recv(fd, p)
			return true
		})
		switch {
		case cerr != nil:
			return 0, cerr, true
		case rerr == nil && n == 0:
			return 0, io.EOF, true
		case rerr == nil:
			return n, nil, true
		case rerr != unix.EAGAIN && rerr != unix.EINTR:
			return 0, rerr, true
		}
		now := time.Now()
		s.account(now.Sub(resumed))
		if !s.keepReading(start, now) {
			return 0, nil, false
		}
		runtime.Gosched()
	}
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func atoi3(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// statusText avoids an allocation for the statuses a load test sees
// by the million; vegeta keeps Status as the error of a non-2xx result.
func statusText(code int, line []byte) string {
	switch code {
	case 200:
		return "200 OK"
	case 201:
		return "201 Created"
	case 204:
		return "204 No Content"
	}
	return string(trim(line[9:]))
}
