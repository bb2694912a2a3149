package load

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// HoldConfig is what a Holder holds connections to, and how.
type HoldConfig struct {
	// URL is the target: http://HOST:PORT/path. Every request is a GET of it.
	URL string
	// Every is how often each connection sends one request (default 5s).
	// Each connection sends its first request as soon as it is dialled, as
	// a client does (a server may close a connection that stays silent:
	// net/http's ReadHeaderTimeout counts from the accept), and its second
	// at a uniformly random instant within Every after that, so that the
	// requests spread evenly over time.
	Every time.Duration
	// DialRate is how many connections a second are dialled, while growing
	// and when lost ones are dialled again (default 2000): a flood of dials
	// overflows the target's listen backlog and times out on dropped SYNs.
	DialRate float64
	// Timeout bounds one dial and one request (default 5s).
	Timeout time.Duration
	// Sources, if above 0, spreads the connections over that many source
	// addresses, 127.0.0.2 upward through 127.0.0.0/8: one source address
	// has about 28K ephemeral ports (ip_local_port_range), and connections
	// beyond that fail to bind. 0 leaves the source to the kernel
	// (127.0.0.1 for a loopback target).
	Sources int
}

// HoldStats is what a Holder holds now and what it has counted so far.
type HoldStats struct {
	// Target is how many connections the holder keeps: each was dialled at
	// least once, and one that is lost is dialled again.
	Target int `json:"target"`
	// Open is how many of them are connected now.
	Open int `json:"open"`
	// Held is how many are connected now and answered their last request
	// with a 2xx: the connections the target process provably serves (the
	// kernel completes a TCP handshake for a process that never accepts).
	// A connection is counted once its first request is answered, which is
	// within Every of its dial.
	Held int `json:"held"`
	// Requests counts complete responses, whatever their status.
	Requests uint64 `json:"requests"`
	// RequestErrors counts requests that failed: timeouts, resets, malformed
	// or non-2xx responses, and connections closed by the peer (by
	// "Connection: close", by closing the socket, or while idle: a
	// connection closed while idle is noticed at its next request).
	RequestErrors uint64 `json:"request_errors"`
	// ConnectErrors counts dials that failed.
	ConnectErrors uint64 `json:"connect_errors"`
	// Redials counts lost connections dialled again.
	Redials uint64 `json:"redials"`
	// FDs is this process's open file descriptors (-1 if unknown).
	FDs int `json:"fds"`
	// Errors are the first distinct errors seen, each with its count.
	Errors []string `json:"errors,omitempty"`
}

// Holder opens N HTTP/1.1 keep-alive connections to one target and keeps
// every one of them open and in use: each sends a small GET every Every,
// and one that is lost (reset, timed out, closed by the peer) is dialled
// again. It answers how many connections a server process holds; the
// latency of the server meanwhile is a separate probe stream's business.
//
// Design. Connections are plain net.Conns (raw syscalls, as the rest of the
// loader) kept in one min-heap ordered by when each is next due. One
// scheduler goroutine wakes on a ticker (Every/64, between 1 and 10 ms),
// takes every connection that is due and starts one short-lived goroutine
// per request: it writes the pre-encoded request, reads the response under
// a deadline with a pooled 4 KB buffer, and puts the connection back in the
// heap. An idle connection therefore costs no goroutine, no stack, no timer
// and no buffer: a small struct and the runtime's socket (netFD and poll
// descriptor). A goroutine per connection looping {sleep; write; read}
// would also work (the netpoller makes a blocked read cheap), but it keeps
// a stack, a timer and a read buffer per connection whether or not it is
// in use; here only the
// requests in flight have those, for a round trip each: a handful at a
// time on a server that answers (at Every=5s, 20K connections are 4K
// requests/s). A stalled server raises that to one goroutine per request
// in flight, which is bounded by the connections and by Timeout.
//
// The price of not reading idle connections: a connection the peer closes
// while idle still counts as open and held until its next request finds it
// closed (within Every), and is then counted lost and dialled again on the
// scheduler's next tick, when its request was due; like a new connection it
// sends at once, then at a random phase.
//
// Dials are paced at DialRate through one token bucket shared by Grow and
// by re-dials; at most 256 are in flight while growing.
//
// Costs, measured on this 2-vCPU VM holding 10K and 18K connections at
// Every=5s against a trivial net/http server on 127.0.0.1 (4 sources): the
// loader's RSS grew 1.65-1.95 MB per 1K connections (about 0.9 KB of live
// heap each, the rest GC headroom and runtime), and it spent 37-46 µs of
// CPU per request, 7.4-8.7 µs per second per connection: 8-9 % of one core
// for 10K connections (2K requests/s), 13 % for 18K. Most of it is the
// kernel's loopback TCP work and the netpoller's wake-ups, not this code.
// A goroutine per connection ({sleep; write; http.ReadResponse}) measured
// 13 MB per 1K connections and 99 µs per request. A coarser tick bunches
// more requests per wake-up and costs less (31 µs per request at 50 ms),
// but sends the target bursts five times as large; 10 ms keeps them small.
// (A batch goroutine writing a tick's requests and reading the responses
// in turn cost the same 40 µs: what reads saved, back-to-back writes spent.)
type Holder struct {
	cfg     HoldConfig
	req     []byte // the pre-encoded request
	raddr   string
	dialers []net.Dialer // one per source address
	nextSrc atomic.Uint64
	dials   *rate.Limiter
	start   time.Time // the origin of holdConn's times
	tick    time.Duration

	life   context.Context // ends at Close
	cancel context.CancelFunc
	growMu sync.Mutex // one Grow at a time; Close waits for it

	mu     sync.Mutex
	queue  holdQueue   // connections waiting for their turn
	slots  []*holdConn // every connection kept, queued or busy
	closed bool
	wg     sync.WaitGroup // the scheduler and its requests and re-dials

	open, held                                      atomic.Int64
	requests, requestErrors, connectErrors, redials atomic.Uint64
	errMu                                           sync.Mutex
	errs                                            []errCount
}

// holdConn is one connection kept. It is owned by the scheduler while in
// the queue and by its request's goroutine while out of it; mu guards nc
// against Close, which closes connections wherever they are.
type holdConn struct {
	at       int64 // when the scheduler next acts on it (ns since Holder.start)
	due      int64 // when its next request is due
	reserved bool  // it waits for a dial token reserved for at
	ok       bool  // its last request was answered with a 2xx (counted in held)
	fresh    bool  // just dialled: its next request is its first, sent at once
	mu       sync.Mutex
	nc       net.Conn // nil while lost
	rc       syscall.RawConn
}

type errCount struct {
	msg string
	n   int
}

const (
	// maxHoldErrors is how many distinct errors HoldStats keeps.
	maxHoldErrors = 8
	// maxGrowDials bounds the dials in flight while growing.
	maxGrowDials = 256
	// giveUpAfter is how many dials in a row may fail before Grow concludes
	// that the target cannot take more connections.
	giveUpAfter = 32
	// maxSources keeps source addresses within 127.0.0.2-127.1.0.1.
	maxSources = 1 << 16
)

var (
	errHolderClosed = errors.New("holder closed")
	errPeerClosed   = errors.New("closed by peer")
)

// NewHolder checks cfg, fills in its defaults and starts the scheduler.
// Close stops it.
func NewHolder(cfg HoldConfig) (*Holder, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("hold: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("hold: URL %q: want http://host:port/path", cfg.URL)
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	raddr, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("hold: %w", err)
	}
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.DialRate <= 0 {
		cfg.DialRate = 2000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Sources < 0 || cfg.Sources > maxSources {
		return nil, fmt.Errorf("hold: %d sources: want 0 to %d", cfg.Sources, maxSources)
	}
	if cfg.Sources > 0 && (raddr.IP.To4() == nil || !raddr.IP.IsLoopback()) {
		return nil, fmt.Errorf("hold: source addresses are in 127.0.0.0/8, so the target must be too, not %s", raddr.IP)
	}

	h := &Holder{cfg: cfg, raddr: raddr.String(), start: time.Now(),
		tick: min(max(cfg.Every/64, time.Millisecond), 10*time.Millisecond)}
	h.req = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", u.RequestURI(), u.Host)
	// No TCP keep-alive probes: every connection carries a request every
	// Every, and the probes' setsockopts would cost each dial three syscalls.
	h.dialers = []net.Dialer{{Timeout: cfg.Timeout, KeepAlive: -1}}
	if cfg.Sources > 0 {
		h.dialers = make([]net.Dialer, cfg.Sources)
		for i := range h.dialers {
			ip := uint32(127<<24 + 2 + i)
			src := &net.TCPAddr{IP: net.IPv4(byte(ip>>24), byte(ip>>16), byte(ip>>8), byte(ip))}
			h.dialers[i] = net.Dialer{Timeout: cfg.Timeout, KeepAlive: -1, LocalAddr: src}
		}
	}
	// A burst of 10 ms of dials: the token bucket's waits then stay near
	// the timer's resolution instead of one timer per dial.
	h.dials = rate.NewLimiter(rate.Limit(cfg.DialRate), max(1, int(cfg.DialRate/100)))
	h.life, h.cancel = context.WithCancel(context.Background())
	h.wg.Add(1)
	go h.schedule()
	return h, nil
}

// GrowError says why Grow stopped short of its target.
type GrowError struct {
	Want, Open int
	Err        error
	// Limit, if set, names the limit that stopped it and how to lift it.
	Limit string
}

func (e *GrowError) Error() string {
	s := fmt.Sprintf("hold: %d of %d connections open: %v", e.Open, e.Want, e.Err)
	if e.Limit != "" {
		s += " (" + e.Limit + ")"
	}
	return s
}

func (e *GrowError) Unwrap() error { return e.Err }

// Grow dials connections, DialRate a second, until the holder keeps n (it
// never closes any: a smaller n returns at once). It returns nil once n are
// open, before their first requests are answered (Held reaches n within
// Every after that on a server that holds them all). It returns a
// *GrowError when ctx ends or when n cannot be reached: a dial failed on a
// limit of this process or system (open files, ephemeral ports, memory), or
// giveUpAfter dials in a row failed (the error is the last of them: a
// refused connection, a dial timeout on a full backlog).
func (h *Holder) Grow(ctx context.Context, n int) error {
	h.growMu.Lock()
	defer h.growMu.Unlock()
	if h.life.Err() != nil {
		return errHolderClosed
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(h.life, cancel)()

	var (
		wg       sync.WaitGroup
		inflight = make(chan struct{}, maxGrowDials)
		tooLate  bool // the next dial token comes after ctx's deadline
		mu       sync.Mutex
		pending  int   // dials in flight
		inRow    int   // dials failed since the last success
		fatal    error // a dial failed on a limit that more dials cannot pass
		last     error
	)
	finished := make(chan struct{}, 1) // a dial ended
	for {
		mu.Lock()
		target, dialling := h.Target(), pending
		stop := fatal != nil || inRow >= giveUpAfter
		mu.Unlock()
		if target >= n || stop || ctx.Err() != nil {
			break
		}
		if target+dialling >= n { // enough dials in flight, unless some fail
			select {
			case <-finished:
			case <-ctx.Done():
			}
			continue
		}
		select {
		case inflight <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		if err := h.dials.Wait(ctx); err != nil {
			<-inflight
			tooLate = ctx.Err() == nil
			cancel()
			continue
		}
		mu.Lock()
		pending++
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := h.dial(ctx)
			if err == nil && !h.add(nc, n) {
				_ = nc.Close()
			}
			mu.Lock()
			defer func() {
				mu.Unlock()
				select {
				case finished <- struct{}{}:
				default:
				}
			}()
			pending--
			<-inflight
			switch {
			case err == nil:
				inRow = 0
			case ctx.Err() != nil: // cancelled, not failed
			default:
				h.connectErrors.Add(1)
				h.note(err)
				inRow++
				last = err
				if fatal == nil && limitErr(err) {
					fatal = err
				}
			}
		}()
	}
	wg.Wait()

	open := h.Target()
	if open >= n {
		return nil
	}
	ge := &GrowError{Want: n, Open: open}
	switch {
	case fatal != nil:
		ge.Err, ge.Limit = fatal, h.limitHint(fatal)
	case inRow >= giveUpAfter:
		ge.Err = fmt.Errorf("%d dials in a row failed, the last: %w", inRow, last)
	case h.life.Err() != nil:
		ge.Err = errHolderClosed
	case tooLate:
		ge.Err = context.DeadlineExceeded
	case parent.Err() != nil:
		ge.Err = parent.Err()
	default:
		ge.Err = errors.New("stopped short") // not reached: every way out is above
	}
	return ge
}

// limitErr says whether a dial failed on a limit of this process or system,
// which no number of further dials gets past.
func limitErr(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// limitHint names the limit behind err and how to lift it.
func (h *Holder) limitHint(err error) string {
	k := ReadKernelLimits()
	switch {
	case errors.Is(err, syscall.EMFILE):
		return fmt.Sprintf("RLIMIT_NOFILE: soft limit %d, hard %d; RaiseNoFile raises the soft one", k.NoFileSoft, k.NoFileHard)
	case errors.Is(err, syscall.ENFILE):
		return fmt.Sprintf("fs.file-max %d reached system-wide", k.FileMax)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Sprintf("ephemeral ports exhausted: %d per source address (ip_local_port_range %d-%d) and %d source(s); more Sources lift it",
			k.Ports(), k.PortLow, k.PortHigh, max(1, h.cfg.Sources))
	default:
		return "kernel memory for sockets"
	}
}

// dial opens one connection, from the next source address in turn.
func (h *Holder) dial(ctx context.Context) (net.Conn, error) {
	d := &h.dialers[h.nextSrc.Add(1)%uint64(len(h.dialers))]
	nc, err := d.DialContext(ctx, "tcp", h.raddr)
	if err != nil {
		return nil, &phaseError{"dial", err}
	}
	return nc, nil
}

// add keeps nc in a new slot, its first request due within Every, unless
// the holder keeps n already or is closed.
func (h *Holder) add(nc net.Conn, n int) bool {
	c := &holdConn{}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.slots) >= n || !h.attach(c, nc) {
		return false
	}
	c.due, c.fresh = h.now(), true
	c.at = c.due
	h.slots = append(h.slots, c)
	heap.Push(&h.queue, c)
	return true
}

// attach makes nc c's connection, unless the holder is closing.
func (h *Holder) attach(c *holdConn, nc net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.life.Err() != nil {
		return false
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	c.nc, c.rc = nc, rc
	h.open.Add(1)
	return true
}

// drop closes c's connection: lost, it is dialled again on the next tick.
func (h *Holder) drop(c *holdConn) {
	c.mu.Lock()
	_ = c.nc.Close()
	c.nc, c.rc = nil, nil
	c.mu.Unlock()
	h.open.Add(-1)
	c.at = h.now()
}

func (h *Holder) now() int64 { return int64(time.Since(h.start)) }

// schedule wakes every tick and starts what is due: a request, or the dial
// of a lost connection once a dial token is reserved for it.
func (h *Holder) schedule() {
	defer h.wg.Done()
	t := time.NewTicker(h.tick)
	defer t.Stop()
	var batch []*holdConn
	for {
		select {
		case <-h.life.Done():
			return
		case <-t.C:
		}
		now := h.now()
		batch = batch[:0]
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		for len(h.queue) > 0 && h.queue[0].at <= now {
			c := heap.Pop(&h.queue).(*holdConn)
			if c.nc == nil && !c.reserved {
				if wait := h.dials.Reserve().Delay(); wait > 0 {
					c.reserved, c.at = true, now+int64(wait)
					heap.Push(&h.queue, c)
					continue
				}
			}
			c.reserved = false
			batch = append(batch, c)
		}
		h.wg.Add(len(batch))
		h.mu.Unlock()
		for _, c := range batch {
			go h.visit(c)
		}
	}
}

// visit dials c again or sends its request, then queues it for its next turn.
func (h *Holder) visit(c *holdConn) {
	defer h.wg.Done()
	if c.nc == nil {
		h.redial(c)
	} else {
		h.exchange(c)
	}
	h.mu.Lock()
	if !h.closed {
		heap.Push(&h.queue, c)
	}
	h.mu.Unlock()
}

// next is the first instant of c's phase after now.
func (h *Holder) next(due, now int64) int64 {
	if due > now {
		return due
	}
	every := int64(h.cfg.Every)
	return due + ((now-due)/every+1)*every
}

func (h *Holder) redial(c *holdConn) {
	nc, err := h.dial(h.life)
	switch {
	case h.life.Err() != nil:
		if nc != nil {
			_ = nc.Close()
		}
	case err != nil:
		h.connectErrors.Add(1)
		h.note(err)
	case h.attach(c, nc):
		h.redials.Add(1)
		c.due, c.fresh = h.now(), true
		c.at = c.due
		return
	default:
		_ = nc.Close()
	}
	c.due = h.next(c.due, h.now())
	c.at = c.due
}

// exchange sends c's request and reads the answer. Every failure but a
// non-2xx status on a connection left open loses the connection.
func (h *Holder) exchange(c *holdConn) {
	if c.fresh {
		// The first request goes now; the phase of the next ones is random.
		c.fresh = false
		c.due = h.now() + 1 + rand.Int64N(int64(h.cfg.Every))
	} else {
		c.due = h.next(c.due+int64(h.cfg.Every), h.now())
	}
	c.at = c.due
	code, keep, err := h.roundTrip(c)
	if h.life.Err() != nil {
		return // closing: Close closed the connection under it
	}
	if code != 0 {
		h.requests.Add(1)
	}
	if err == nil && code/100 != 2 {
		err = fmt.Errorf("status %d", code)
	}
	if err == nil && !keep {
		err = fmt.Errorf("%w (Connection: close)", errPeerClosed)
	}
	if err == nil {
		if !c.ok {
			c.ok = true
			h.held.Add(1)
		}
		return
	}
	h.requestErrors.Add(1)
	h.note(err)
	if c.ok {
		c.ok = false
		h.held.Add(-1)
	}
	if !keep {
		h.drop(c)
	}
}

// holdReaders are the response buffers, held only while a response is read.
var holdReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// roundTrip writes the request on c and reads its response. code is 0 when
// no complete response came; keep says whether the connection may carry
// another request.
func (h *Holder) roundTrip(c *holdConn) (code int, keep bool, err error) {
	if err := c.nc.SetDeadline(time.Now().Add(h.cfg.Timeout)); err != nil {
		return 0, false, &phaseError{"write", err}
	}
	if err := writeRaw(c.rc, h.req); err != nil {
		return 0, false, &phaseError{"write", err}
	}
	br := holdReaders.Get().(*bufio.Reader)
	br.Reset(c)
	defer func() {
		br.Reset(nil)
		holdReaders.Put(br)
	}()
	code, keep, err = readHoldResponse(br)
	if err != nil {
		return 0, false, &phaseError{"read", err}
	}
	if br.Buffered() > 0 {
		return code, false, &phaseError{"read", fmt.Errorf("%w: %d bytes after the response", errMalformed, br.Buffered())}
	}
	return code, keep, nil
}

// Read reads c's socket, waiting in the netpoller (and its deadline).
func (c *holdConn) Read(p []byte) (int, error) {
	n, err := readRaw(c.rc, p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// readHoldResponse reads one response: the status line, the headers and the
// body (Content-Length, chunked, or up to the close), which it discards.
// keep says whether the connection stays open after it.
func readHoldResponse(br *bufio.Reader) (code int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, trim(line))
	}
	code, ok := atoi3(line[9:12])
	if !ok || code < 200 {
		// A 1xx would be followed by the real response; a GET never asks for one.
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, trim(line))
	}
	keep = line[7] == '1' // HTTP/1.1 defaults to keep-alive, 1.0 to close
	length, chunked := int64(-1), false
	for {
		hl, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		hl = trim(hl)
		if len(hl) == 0 {
			break
		}
		colon := bytes.IndexByte(hl, ':')
		if colon <= 0 {
			return 0, false, fmt.Errorf("%w: header line %q", errMalformed, hl)
		}
		name, value := hl[:colon], bytes.TrimSpace(hl[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			if chunked = bytes.EqualFold(value, []byte("chunked")); !chunked {
				return 0, false, fmt.Errorf("%w: Transfer-Encoding %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	switch {
	case code == 204 || code == 304:
	case chunked:
		err = discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
	default: // delimited by the close
		_, err = io.Copy(io.Discard, br)
		keep = false
	}
	if err != nil {
		return 0, false, err
	}
	return code, keep, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = trim(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			for { // trailers, then the empty line
				t, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(trim(t)) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(size)); err != nil {
			return err
		}
		if crlf, err := br.ReadSlice('\n'); err != nil || len(trim(crlf)) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
		}
	}
}

// phaseError is an error of one phase of a request: "dial", "write", "read".
type phaseError struct {
	phase string
	err   error
}

func (e *phaseError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// note keeps the first maxHoldErrors distinct errors, in holdErrText's words.
func (h *Holder) note(err error) {
	msg := holdErrText(err)
	h.errMu.Lock()
	defer h.errMu.Unlock()
	for i := range h.errs {
		if h.errs[i].msg == msg {
			h.errs[i].n++
			return
		}
	}
	if len(h.errs) < maxHoldErrors {
		h.errs = append(h.errs, errCount{msg, 1})
	}
}

// holdErrText words err without the addresses and ports that would make
// every connection's error distinct, and names a peer's close:
// "dial tcp 127.0.0.2:40000->127.0.0.1:8080: connect: connection refused"
// becomes "dial: connect: connection refused", a read's EOF "read: closed by
// peer (EOF)".
func holdErrText(err error) string {
	prefix := ""
	var pe *phaseError
	if errors.As(err, &pe) {
		prefix = pe.phase + ": "
	}
	var oe *net.OpError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return prefix + errPeerClosed.Error() + " (EOF)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		var errno syscall.Errno
		errors.As(err, &errno)
		return prefix + errPeerClosed.Error() + " (" + errno.Error() + ")"
	case errors.As(err, &oe):
		return prefix + oe.Err.Error()
	case pe != nil:
		return prefix + pe.err.Error()
	}
	return err.Error()
}

// Target is how many connections the holder keeps (HoldStats.Target).
func (h *Holder) Target() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.slots)
}

// Stats says what the holder holds now and what it has counted so far.
func (h *Holder) Stats() HoldStats {
	st := HoldStats{Target: h.Target(), Open: int(h.open.Load()), Held: int(h.held.Load()),
		Requests: h.requests.Load(), RequestErrors: h.requestErrors.Load(),
		ConnectErrors: h.connectErrors.Load(), Redials: h.redials.Load(), FDs: OpenFDs()}
	h.errMu.Lock()
	for _, e := range h.errs {
		st.Errors = append(st.Errors, fmt.Sprintf("%dx %s", e.n, e.msg))
	}
	h.errMu.Unlock()
	return st
}

// Close closes every connection, stops the scheduler, and returns once
// every goroutine the holder started has ended. A Grow under way returns.
func (h *Holder) Close() {
	h.cancel()
	h.growMu.Lock() // Grow ends its dials and returns once life is cancelled
	defer h.growMu.Unlock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	slots := h.slots
	h.queue = nil
	h.mu.Unlock()
	for _, c := range slots {
		c.mu.Lock()
		if c.nc != nil {
			_ = c.nc.Close() // a request in flight on it fails at once
		}
		c.mu.Unlock()
	}
	h.wg.Wait()
	h.open.Store(0)
	h.held.Store(0)
}

// OpenFDs counts this process's open file descriptors (-1 if unknown).
func OpenFDs() int {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(1024)
		n += len(names)
		if err != nil {
			break
		}
	}
	return n - 1 // not the directory's own
}

// holdQueue is a min-heap of connections by when they are next due.
type holdQueue []*holdConn

func (q holdQueue) Len() int           { return len(q) }
func (q holdQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q holdQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *holdQueue) Push(x any)        { *q = append(*q, x.(*holdConn)) }
func (q *holdQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return c
}
