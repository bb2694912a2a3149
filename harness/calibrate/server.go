// Package calibrate measures the load generator itself. Its reference server
// answers the harness's scenarios with pre-encoded bytes from one epoll loop,
// so that what a loader reports against it is the loader's own cost and
// latency, not the server's: it must add close to zero latency and CPU and
// never be the bottleneck. A Go net/http server cannot be that: on this
// project's VMs one core of it does about 60K req/s under wrk and its
// latency moves with the scheduler and the netpoller.
//
// What it does instead, measured on the project's 2-vCPU VM (server pinned
// to CPU 0, wrk -t1 -c64 on CPU 1): 115-124K req/s busy-polling, with wrk's
// CPU the one saturated; 94-107K blocking; a minimal C epoll server 62-97K
// under the same conditions. The kernel's loopback TCP path, about 7 µs of
// the server's CPU per request here (profiled: its Go code is a few per
// cent), is the ceiling of any server doing one read and one write per
// request. Pipelined 16 deep it answers about 1M req/s.
//
// The server is Linux-only (epoll, eventfd, timerfd through x/sys/unix):
// one listening socket, one event loop goroutine locked to its OS thread,
// non-blocking sockets read and written with raw syscalls, no Go netpoller
// and no goroutine per connection. By default the loop busy-polls
// (epoll_wait with a zero timeout, never sleeping), because a sleeping
// thread here wakes 30-100 µs after its packet arrives, and that wake-up
// would show up in the loader's latency. It burns a whole CPU doing so.
//
// HTTP support is what the loaders send, no more: HTTP/1.1 keep-alive and
// pipelining, Content-Length bodies (skipped), "Connection: close". Chunked
// request bodies (Transfer-Encoding) are answered 400 and the connection is
// closed: no loader of the harness sends them, and supporting them would add
// a parser state for nothing. HTTP/1.0 requests are answered and the
// connection closed (no HTTP/1.0 keep-alive).
//
// It also records the gaps between the requests it receives, read (and
// reset) at ArrivalsPath: loaders offering the same rate can deliver it
// evenly or in bursts, and a cross-check must see which (see Arrivals).
package calibrate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/cpuset"
)

// ServerConfig configures a reference server.
type ServerConfig struct {
	// Addr is an IPv4 host:port to listen on; "" means 127.0.0.1:0 (a free port).
	Addr string
	// Delay is an injected service time: each response is held until its
	// request's arrival + Delay, without holding up other requests. Zero
	// answers at once.
	Delay time.Duration
	// Blocking makes the loop sleep in epoll_wait between events instead of
	// busy-polling. It saves a CPU but adds the kernel's wake-up latency to
	// every answer and, with a Delay, the timer's (tens of µs here); the
	// Delay then counts from when the loop woke for the request.
	Blocking bool
}

// Limits that keep one misbehaving client from growing the server without
// bound. A request larger than maxRequest (headers and body) is answered 400
// and its connection closed; a connection with more than maxUnsent bytes of
// answers it has not read, or maxInflight delayed answers, is not read from
// until it catches up.
const (
	maxRequest  = 1 << 20
	maxUnsent   = 4 << 20
	maxInflight = 1 << 14
	readBuf     = 64 << 10
	maxEvents   = 256
	listenQueue = 4096
)

// Server is a running reference server. Its loop owns every field not
// marked otherwise; other goroutines only use the atomics, done and evfd.
type Server struct {
	url      string
	delay    int64 // ns
	blocking bool
	resp     *responseSet
	base     time.Time // the loop's clock is time.Since(base) in ns (monotonic)

	lfd, epfd, tfd int
	evfd           int // written by Close to wake and stop the loop; closed by Close

	conns  []*conn // by fd
	rbuf   []byte
	events []unix.EpollEvent
	queue  ring    // delayed answers, ordered by due time
	dirty  []*conn // connections given output by flushDue
	armed  int64   // due time the timerfd is set for, or -1 (blocking mode)

	lateSum, lateN, lateMx int64   // this iteration's lateness, published once per iteration
	gaps                   gapHist // arrival gaps since the last read of ArrivalsPath

	requests atomic.Uint64
	lateness struct{ sum, n, max atomic.Int64 }

	closeOnce sync.Once
	stopCtx   func() bool // unregisters the ctx hook; read only by Close's callers
	done      chan struct{}
	err       error // the loop's, readable after done
}

// conn is one accepted connection.
type conn struct {
	fd      int
	partial []byte // bytes of an incomplete request, kept across reads
	out     []byte // encoded answers not yet written; out[outOff:] is unsent
	outOff  int
	// inflight counts delayed answers still in the queue.
	inflight int
	// noMore: take no more requests (Connection: close, EOF, a bad request);
	// close once every answer is written.
	noMore bool
	events uint32 // epoll interest currently registered
	dirty  bool   // in Server.dirty
	closed bool   // fd closed; queued answers for it are dropped
}

// Serve binds cfg.Addr and starts the event loop; it returns once the
// listener is bound, so URL answers at once. The server stops on Close or
// when ctx is done; Close must be called either way: it releases the last
// descriptor and returns the loop's error.
func Serve(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Delay < 0 {
		return nil, fmt.Errorf("reference server: negative delay %s", cfg.Delay)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("reference server: listen address %q: want IPv4:port, e.g. 127.0.0.1:0", addr)
	}
	s := &Server{
		delay: int64(cfg.Delay), blocking: cfg.Blocking, resp: responses(), base: time.Now(),
		lfd: -1, epfd: -1, tfd: -1, evfd: -1, armed: -1,
		rbuf: make([]byte, readBuf), events: make([]unix.EpollEvent, maxEvents), done: make(chan struct{}),
	}
	if err := s.open(ap); err != nil {
		s.closeFDs()
		if s.evfd >= 0 {
			unix.Close(s.evfd)
		}
		return nil, fmt.Errorf("reference server on %s: %w", addr, err)
	}
	go s.loop()
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.shutdown() })
	return s, nil
}

// open creates the listener, the epoll set, the stop eventfd and, for a
// delay in blocking mode, the timerfd that wakes the loop when an answer is due.
func (s *Server) open(ap netip.AddrPort) error {
	var err error
	if s.lfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	// A restarted calibration reuses its port despite TIME_WAIT connections.
	if err := unix.SetsockoptInt(s.lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(s.lfd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if err := unix.Listen(s.lfd, listenQueue); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	sa, err := unix.Getsockname(s.lfd)
	if err != nil {
		return fmt.Errorf("getsockname: %w", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return fmt.Errorf("getsockname: unexpected address %T", sa)
	}
	s.url = "http://" + netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)).String()

	if s.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	if s.evfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	fds := []int{s.lfd, s.evfd}
	if s.blocking && s.delay > 0 {
		if s.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
			return fmt.Errorf("timerfd_create: %w", err)
		}
		fds = append(fds, s.tfd)
	}
	for _, fd := range fds {
		if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("epoll_ctl add %d: %w", fd, err)
		}
	}
	return nil
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.url }

// Requests is the number of requests answered so far. An answer counts
// when it is queued for writing, before it is written, so a client that has
// read n answers sees at least n.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// Lateness is how late delayed answers were put on the wire relative to
// arrival + Delay, mean and max, as the loop saw it; zero without a Delay.
// It tells whether the injected service time held during a run (busy-poll:
// about a microsecond; blocking: the timer's wake-up latency).
func (s *Server) Lateness() (mean, max time.Duration) {
	n := s.lateness.n.Load()
	if n == 0 {
		return 0, 0
	}
	return time.Duration(s.lateness.sum.Load() / n), time.Duration(s.lateness.max.Load())
}

// Close stops the loop, closes every socket and waits for the loop to end.
// It is safe to call more than once and from several goroutines.
func (s *Server) Close() error {
	s.stopCtx()
	return s.shutdown()
}

func (s *Server) shutdown() error {
	s.closeOnce.Do(func() {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1) // eventfd adds a host-order uint64
		_, _ = unix.Write(s.evfd, one[:])
		<-s.done
		// Only now: the loop may read evfd until it has returned, and the
		// fd number must not be reused under it.
		unix.Close(s.evfd)
	})
	<-s.done
	return s.err
}

func (s *Server) now() int64 { return int64(time.Since(s.base)) }

// loop is the server. It never unlocks its OS thread, so the thread exits
// with it rather than returning to the Go scheduler's pool.
func (s *Server) loop() {
	runtime.LockOSThread()
	defer close(s.done)
	defer s.closeFDs()
	timeout := 0
	if s.blocking {
		timeout = -1
	}
	for {
		n, err := s.wait(timeout)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			s.err = fmt.Errorf("reference server: epoll_wait: %w", err)
			return
		}
		if n == 0 && s.queue.n == 0 {
			continue // the idle busy-poll path: no clock read, nothing to do
		}
		// One arrival time for the batch: the moment epoll reported it.
		now := s.now()
		for _, ev := range s.events[:n] {
			switch fd := int(ev.Fd); fd {
			case s.lfd:
				s.accept()
			case s.evfd:
				return
			case s.tfd:
				var b [8]byte
				_, _ = unix.Read(s.tfd, b[:])
				s.armed = -1
			default:
				c := s.conns[fd]
				if c == nil {
					continue
				}
				// HUP is both directions shut: no answer can be delivered.
				if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
					s.closeConn(c)
					continue
				}
				if ev.Events&unix.EPOLLIN != 0 {
					s.read(c, now)
				}
				if ev.Events&unix.EPOLLOUT != 0 && !c.closed {
					s.settle(c)
				}
			}
		}
		if s.queue.n > 0 {
			s.flushDue(s.now())
			if s.blocking {
				s.arm()
			}
		}
		if s.lateN > 0 {
			s.publishLateness()
		}
	}
}

// The loop's syscalls on sockets and its zero-timeout epoll_wait are raw
// (no entersyscall): they never block, and a P that is "in a syscall" most
// of the time keeps the runtime's sysmon thread waking every 20 µs to look
// at it, now and then handing the P to another thread. Profiled under wrk
// with the process pinned to one CPU, those wake-ups and hand-offs took
// about 7 % of that CPU. Only a blocking epoll_wait, which does sleep, goes
// through unix.EpollWait so the runtime can use the P meanwhile.

func (s *Server) wait(timeout int) (int, error) {
	if timeout != 0 {
		return unix.EpollWait(s.epfd, s.events, timeout)
	}
	// epoll_pwait with no signal mask is epoll_wait, and exists on every
	// architecture (arm64 has no epoll_wait).
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(s.epfd), uintptr(unsafe.Pointer(&s.events[0])), uintptr(len(s.events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func rawRead(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func (s *Server) accept() {
	for {
		fd, _, err := unix.Accept4(s.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			return // EAGAIN: all taken. Anything else (EMFILE): epoll says so again.
		}
		// Answers are whole and written at once: never wait for Nagle.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			unix.Close(fd)
			continue
		}
		for fd >= len(s.conns) {
			s.conns = append(s.conns, make([]*conn, len(s.conns)+64)...)
		}
		s.conns[fd] = &conn{fd: fd, events: unix.EPOLLIN}
	}
}

// read takes what the socket has (level-triggered: one read per event; a
// full buffer is simply reported again), answers every complete request in
// it and writes the answers.
func (s *Server) read(c *conn, now int64) {
	n, err := rawRead(c.fd, s.rbuf)
	switch {
	case n > 0:
		s.handle(c, s.rbuf[:n], now)
	case err == nil: // EOF: the client sent all it will; answer what it asked
		c.noMore = true
		c.partial = nil
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	default:
		s.closeConn(c)
		return
	}
	s.settle(c)
}

// handle parses in (appended to the connection's incomplete request, if
// any) and keeps an unfinished tail for the next read. The common case, a
// whole request in one read, parses straight from the loop's buffer.
func (s *Server) handle(c *conn, in []byte, now int64) {
	data := in
	if len(c.partial) > 0 {
		c.partial = append(c.partial, in...)
		data = c.partial
	}
	rest := data[s.parse(c, data, now):]
	switch {
	case c.noMore || len(rest) == 0:
		c.partial = c.partial[:0]
		if cap(c.partial) > readBuf {
			c.partial = nil // a one-off large body: do not keep its buffer
		}
	case len(c.partial) > 0: // rest is a tail of c.partial: move it to the front
		c.partial = c.partial[:copy(c.partial, rest)]
	default:
		c.partial = append(c.partial[:0], rest...)
	}
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// parse answers every complete request in data and returns how many bytes
// they took.
func (s *Server) parse(c *conn, data []byte, now int64) int {
	off := 0
	for !c.noMore {
		end := bytes.Index(data[off:], crlfcrlf)
		if end < 0 {
			if len(data)-off > maxRequest {
				s.respond(c, s.resp.badRequest.b, true, now)
			}
			break
		}
		req, ok := parseHead(data[off : off+end])
		total := end + 4 + req.contentLength
		if !ok || total > maxRequest {
			s.respond(c, s.resp.badRequest.b, true, now)
			break
		}
		if len(data)-off < total {
			break // the body has not all arrived
		}
		off += total
		if isArrivals(req) {
			s.respond(c, s.arrivalsAnswer(), req.close, now)
			continue
		}
		s.gaps.record(now)
		r := s.resp.route(req.method, req.target)
		b := r.b
		if string(req.method) == "HEAD" {
			b = r.b[:r.head]
		}
		s.respond(c, b, req.close, now)
	}
	return off
}

// request is what parse needs of a request head.
type request struct {
	method, target []byte
	contentLength  int
	close          bool // answer, then close the connection
}

// parseHead reads a request line and headers (without the final CRLFCRLF).
// ok is false for anything malformed or unsupported, answered 400.
func parseHead(head []byte) (r request, ok bool) {
	line, headers, _ := bytes.Cut(head, crlf)
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, version, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 {
		return r, false
	}
	r.method, r.target = method, target
	switch string(version) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		r.close = true
	default:
		return r, false
	}
	for len(headers) > 0 {
		var h []byte
		h, headers, _ = bytes.Cut(headers, crlf)
		name, value, found := bytes.Cut(h, []byte{':'})
		if !found {
			return r, false
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			n, ok := parseDigits(value, maxRequest)
			if !ok {
				return r, false
			}
			r.contentLength = n
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			return r, false // chunked bodies are not supported: see the package comment
		case bytes.EqualFold(name, []byte("connection")):
			if hasToken(value, "close") {
				r.close = true
			}
		}
	}
	return r, true
}

// hasToken reports whether a comma-separated header value holds the token
// (case-insensitively), without allocating: some clients send
// "Connection: keep-alive" on every request.
func hasToken(value []byte, lower string) bool {
	for len(value) > 0 {
		var t []byte
		t, value, _ = bytes.Cut(value, []byte{','})
		if bytes.EqualFold(bytes.Trim(t, " \t"), []byte(lower)) {
			return true
		}
	}
	return false
}

// parseDigits reads a non-empty decimal number of at most max; leading
// zeros are allowed (as strconv.Atoi allows them in the contract's handler).
func parseDigits(b []byte, max int) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, false
		}
	}
	return n, true
}

// respond queues one answer: for writing now, or, with a Delay, for
// arrival + Delay. closeAfter ends the connection once it is written.
func (s *Server) respond(c *conn, b []byte, closeAfter bool, now int64) {
	if closeAfter {
		b = withClose(b)
		c.noMore = true
	}
	if s.delay == 0 {
		c.out = append(c.out, b...)
		s.requests.Add(1)
		return
	}
	// Every answer waits the same Delay and arrivals are taken in time
	// order, so appending keeps the queue ordered by due time: a FIFO is
	// the priority queue here.
	s.queue.push(pending{c: c, b: b, due: now + s.delay})
	c.inflight++
}

// flushDue moves every answer due by now to its connection and writes each
// such connection once.
func (s *Server) flushDue(now int64) {
	for s.queue.n > 0 {
		p := s.queue.peek()
		if p.due > now {
			break
		}
		c, b, due := p.c, p.b, p.due
		s.queue.pop()
		if c.closed {
			continue
		}
		c.inflight--
		c.out = append(c.out, b...)
		s.requests.Add(1)
		late := now - due
		s.lateSum += late
		s.lateN++
		s.lateMx = max(s.lateMx, late)
		if !c.dirty {
			c.dirty = true
			s.dirty = append(s.dirty, c)
		}
	}
	for _, c := range s.dirty {
		c.dirty = false
		if !c.closed {
			s.settle(c)
		}
	}
	clear(s.dirty)
	s.dirty = s.dirty[:0]
}

func (s *Server) publishLateness() {
	s.lateness.sum.Add(s.lateSum)
	s.lateness.n.Add(s.lateN)
	if s.lateMx > s.lateness.max.Load() {
		s.lateness.max.Store(s.lateMx) // only the loop writes it
	}
	s.lateSum, s.lateN, s.lateMx = 0, 0, 0
}

// arm sets the timerfd for the queue's head (blocking mode with a Delay).
func (s *Server) arm() {
	if s.queue.n == 0 {
		return
	}
	due := s.queue.peek().due
	if due == s.armed {
		return
	}
	d := max(due-s.now(), 1) // zero would disarm it
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
	if err := unix.TimerfdSettime(s.tfd, 0, &spec, nil); err == nil {
		s.armed = due
	}
}

// settle writes what the connection has to send, closes it once it is done
// with, and otherwise sets its epoll interest: EPOLLOUT while output is
// stuck, EPOLLIN while it may take requests and is not too far behind.
func (s *Server) settle(c *conn) {
	for c.outOff < len(c.out) {
		n, err := rawWrite(c.fd, c.out[c.outOff:])
		if n > 0 {
			c.outOff += n
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil && err != unix.EINTR {
			s.closeConn(c)
			return
		}
	}
	if c.outOff == len(c.out) {
		c.out, c.outOff = c.out[:0], 0
	}
	if c.noMore && c.inflight == 0 && len(c.out) == 0 {
		s.closeConn(c)
		return
	}
	var want uint32
	if !c.noMore && len(c.out)-c.outOff < maxUnsent && c.inflight < maxInflight {
		want |= unix.EPOLLIN
	}
	if len(c.out) > 0 {
		want |= unix.EPOLLOUT
	}
	if want != c.events {
		if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: want, Fd: int32(c.fd)}); err != nil {
			s.closeConn(c)
			return
		}
		c.events = want
	}
}

// closeConn closes the socket (which also takes it out of the epoll set).
// Answers still queued for it are dropped when they come due.
func (s *Server) closeConn(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	s.conns[c.fd] = nil
	unix.Close(c.fd)
	c.partial, c.out = nil, nil
}

// closeFDs closes every fd the loop owns; evfd is Close's.
func (s *Server) closeFDs() {
	for _, c := range s.conns {
		if c != nil {
			s.closeConn(c)
		}
	}
	for _, fd := range []int{s.lfd, s.tfd, s.epfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// pending is an answer held until due.
type pending struct {
	c   *conn
	b   []byte
	due int64
}

// ring is a growable FIFO of pending answers that reuses its memory, since
// under a steady load with a Delay it is never empty for long.
type ring struct {
	buf     []pending
	head, n int
}

func (r *ring) push(p pending) {
	if r.n == len(r.buf) {
		grown := make([]pending, max(2*len(r.buf), 1024))
		for i := range r.n {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = p
	r.n++
}

func (r *ring) peek() *pending { return &r.buf[r.head] }

func (r *ring) pop() {
	r.buf[r.head] = pending{} // let a closed connection be collected
	r.head = (r.head + 1) % len(r.buf)
	r.n--
}

// response is a whole pre-encoded answer; b[:head] is its status line and
// headers, what a HEAD request gets.
type response struct {
	b    []byte
	head int
}

// responseSet is every answer the server can give, encoded once per process.
type responseSet struct {
	json, health, quote, compute, notFound, badRequest response
	churn, orders, placed                              response
	users                                              []response // by id; [0] unused
}

var responses = sync.OnceValue(func() *responseSet {
	rs := &responseSet{
		json:       encode("200 OK", []byte(`{"message":"Hello, World!"}`)),
		health:     encode("200 OK", []byte(`{"status":"ok"}`)),
		quote:      encode("200 OK", fixedQuote()),
		compute:    encode("200 OK", contract.ComputeJSON(contract.ComputeParams{Rounds: contract.ComputeDefaultRounds, Top: contract.ComputeDefaultTop})),
		churn:      encode("200 OK", contract.ChurnJSON(contract.ChurnParams{N: contract.ChurnDefaultN})),
		orders:     encode("200 OK", contract.SeedUserOrdersJSON(1, contract.OrdersDefaultLimit)),
		placed:     encode("200 OK", fixedPlaced()),
		notFound:   encode("404 Not Found", []byte(`{"error":"not found"}`)),
		badRequest: encode("400 Bad Request", []byte(`{"error":"bad request"}`)),
		users:      make([]response, contract.UserCount+1),
	}
	// All 10,000 users in one block: about 5 MB, adjacent in memory.
	var arena []byte
	ends := make([]int, contract.UserCount+1)
	heads := make([]int, contract.UserCount+1)
	for id := 1; id <= contract.UserCount; id++ {
		r := encode("200 OK", contract.UserJSON(id))
		heads[id] = r.head
		arena = append(arena, r.b...)
		ends[id] = len(arena)
	}
	for id := 1; id <= contract.UserCount; id++ {
		rs.users[id] = response{b: arena[ends[id-1]:ends[id]:ends[id]], head: heads[id]}
	}
	return rs
})

// fixedQuote is the one body every POST /orders/quote gets, whatever it
// asked: a calibration measures the loader, so the quote need only look
// like the contract's (it is the contract's answer to a fixed order), not
// be the right answer to the request.
func fixedQuote() []byte {
	q := contract.ComputeQuote(contract.QuoteRequest{CustomerID: 1001, Items: []contract.QuoteItem{
		{SKU: "SKU-1001", Qty: 2, UnitPriceCents: 1999}, {SKU: "SKU-2002", Qty: 1, UnitPriceCents: 4500},
	}})
	b, err := json.Marshal(q)
	if err != nil {
		panic(fmt.Sprintf("marshal quote: %v", err)) // plain structs cannot fail
	}
	return b
}

// fixedPlaced is the one body every POST /db/orders gets: the fixed quote
// with an order id, as a database target answers.
func fixedPlaced() []byte {
	var q contract.Quote
	if err := json.Unmarshal(fixedQuote(), &q); err != nil {
		panic(fmt.Sprintf("unmarshal quote: %v", err)) // our own encoding
	}
	b, err := json.Marshal(contract.PlacedOrder{OrderID: contract.SeedOrders + 1, Quote: q})
	if err != nil {
		panic(fmt.Sprintf("marshal placed order: %v", err)) // plain structs cannot fail
	}
	return b
}

func encode(status string, body []byte) response {
	head := "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	return response{b: append([]byte(head), body...), head: len(head)}
}

// withClose is b with "Connection: close" after its status line. It
// allocates, which only the last answer on a connection pays.
func withClose(b []byte) []byte {
	i := bytes.Index(b, crlf) + 2
	out := make([]byte, 0, len(b)+19)
	out = append(out, b[:i]...)
	out = append(out, "Connection: close\r\n"...)
	return append(out, b[i:]...)
}

// route picks the answer by method and path; the query string is ignored.
// The paths follow the contract's handler: /users/{id} takes a decimal id
// in 1..UserCount (leading zeros allowed, no sign), anything else is 404.
// Every scenario's paths are answered (the GC load's churn, the database
// routes, with fixed bodies of the contract's size), so a calibration at
// a scenario's fixed rate measures the loader on that scenario's mix.
func (rs *responseSet) route(method, target []byte) response {
	path, _, _ := bytes.Cut(target, []byte{'?'})
	switch string(method) {
	case "GET", "HEAD":
		switch string(path) {
		case "/json":
			return rs.json
		case "/health":
			return rs.health
		case "/compute/rank":
			// The default answer whatever the query, as for the quote: the
			// loader is measured, not the kernel.
			return rs.compute
		case "/gc/churn":
			return rs.churn
		}
		if rest, ok := bytes.CutPrefix(path, []byte("/db")); ok {
			if id, ok := bytes.CutSuffix(rest, []byte("/orders")); ok {
				if _, ok := rs.user(id); ok {
					return rs.orders
				}
				return rs.notFound
			}
			path = rest
		}
		if r, ok := rs.user(path); ok {
			return r
		}
	case "POST":
		switch string(path) {
		case "/orders/quote":
			return rs.quote
		case "/db/orders":
			return rs.placed
		}
	}
	return rs.notFound
}

// user is /users/{id}'s answer, if path is one.
func (rs *responseSet) user(path []byte) (response, bool) {
	if id, ok := bytes.CutPrefix(path, []byte("/users/")); ok {
		if n, ok := parseDigits(id, contract.UserCount); ok && n >= 1 {
			return rs.users[n], true
		}
	}
	return response{}, false
}

// Subcommand is the harness command that runs ServeCommand; StartProcess
// runs `exe Subcommand flags...`.
const Subcommand = "refserver"

// ServeCommand is the refserver command: it parses its flags, pins the
// process to -cpus with one P (GOMAXPROCS 1), serves, prints exactly one line
// "listening http://127.0.0.1:PORT" on stdout once the listener is bound,
// and serves until ctx is done. The flags live here, beside processArgs
// that writes them, so StartProcess and the command cannot drift apart.
func ServeCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "IPv4 address to listen on; port 0 picks a free one")
	delay := fs.Duration("delay", 0, "injected service time: answer each request this long after it arrived")
	blocking := fs.Bool("blocking", false, "sleep in epoll_wait instead of busy-polling (saves a CPU, adds wake-up latency)")
	cpus := fs.String("cpus", "0", `pin the process to these CPUs, e.g. "0" or "2-3"; "" does not pin`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage is printed; as the other commands do on -h
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", Subcommand, fs.Args())
	}
	// One P: the loop is the only goroutine that works, and a second P
	// would only let the runtime's own goroutines compete for the pinned CPUs.
	runtime.GOMAXPROCS(1)
	if *cpus != "" {
		list, err := cpuset.ParseList(*cpus)
		if err != nil {
			return fmt.Errorf("-cpus: %w", err)
		}
		if err := cpuset.PinSelf(list); err != nil {
			return err
		}
	}
	srv, err := Serve(ctx, ServerConfig{Addr: *addr, Delay: *delay, Blocking: *blocking})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "listening %s\n", srv.URL()); err != nil {
		_ = srv.Close()
		return fmt.Errorf("announce the address: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-srv.done: // the loop failed: Close returns why
	}
	err = srv.Close()
	// For whoever runs it by hand; stdout keeps its one line.
	msg := fmt.Sprintf("%s: answered %d requests", Subcommand, srv.Requests())
	if mean, max := srv.Lateness(); *delay > 0 {
		msg += fmt.Sprintf("; answers left %s to %s after their %s delay was due (mean, max)", mean, max, *delay)
	}
	fmt.Fprintln(os.Stderr, msg)
	return err
}

// processArgs is the command line ServeCommand parses, for StartProcess.
func processArgs(cfg ServerConfig, cpus []int) []string {
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return []string{Subcommand, "-addr", addr, "-delay", cfg.Delay.String(),
		"-blocking=" + strconv.FormatBool(cfg.Blocking), "-cpus", cpuset.List(cpus)}
}

// How long StartProcess waits for the "listening" line, and Stop for the
// process to exit after SIGTERM before it sends SIGKILL.
const (
	startTimeout = 10 * time.Second
	stopGrace    = 2 * time.Second
)

// Process is a reference server running as a child process (see StartProcess).
type Process struct {
	cmd    *exec.Cmd
	url    string
	stderr *tail
	done   chan struct{}
	err    error // cmd.Wait's, readable after done

	stopOnce sync.Once
	stopErr  error
	stopCtx  func() bool // unregisters the ctx hook; read only by Stop's callers
}

// StartProcess runs `exe refserver` with cfg, pinned to cpus (none: not
// pinned), so the server and the loader can have disjoint CPUs. exe is the
// harness binary (os.Executable) or a test binary that runs ServeCommand. The
// process gets its own process group, so a Ctrl-C on the terminal reaches
// the caller only, and is killed if the caller dies: a busy-polling orphan
// would hold a CPU forever. It returns once the server has said where it
// listens; the server stops on Stop or when ctx is done.
func StartProcess(ctx context.Context, exe string, cfg ServerConfig, cpus []int) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, processArgs(cfg, cpus)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{cmd: cmd, stderr: &tail{max: 4 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start reference server: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start reference server %s: %w", exe, err)
	}
	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(out).ReadString('\n')
		lines <- line{s, err}
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	var failed error
	select {
	case l := <-lines:
		url, ok := strings.CutPrefix(strings.TrimSuffix(l.s, "\n"), "listening ")
		switch {
		case l.err != nil:
			failed = fmt.Errorf("it ended its output before saying where it listens (%v)", l.err)
		case !ok || !strings.HasPrefix(url, "http://"):
			failed = fmt.Errorf("unexpected first line %q", l.s)
		}
		p.url = url
	case <-timer.C:
		failed = fmt.Errorf("no \"listening\" line within %s", startTimeout)
	case <-ctx.Done():
		failed = ctx.Err()
	}
	// Wait only now: it closes the stdout pipe, which must have been read.
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if failed != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return nil, fmt.Errorf("start reference server %s: %w (exit: %v)%s", exe, failed, p.err, p.stderr.suffix())
	}
	p.stopCtx = context.AfterFunc(ctx, func() { _ = p.stop() })
	return p, nil
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (p *Process) URL() string { return p.url }

// PID is the server process's id (also its process group's).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM to the process group, SIGKILL after stopGrace, and
// waits for the process. It returns nil for a server that stopped cleanly
// on SIGTERM; it is safe to call more than once.
func (p *Process) Stop() error {
	p.stopCtx()
	return p.stop()
}

func (p *Process) stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done: // it died on its own: a group id that may be reused is not signalled
			p.stopErr = fmt.Errorf("reference server exited before Stop: %v%s", p.err, p.stderr.suffix())
			return
		default:
		}
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		timer := time.NewTimer(stopGrace)
		defer timer.Stop()
		select {
		case <-p.done:
			if p.err != nil {
				p.stopErr = fmt.Errorf("reference server on SIGTERM: %w%s", p.err, p.stderr.suffix())
			}
		case <-timer.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
			p.stopErr = fmt.Errorf("reference server %d did not stop within %s of SIGTERM: killed", pgid, stopGrace)
		}
	})
	return p.stopErr
}

// tail keeps the last max bytes written to it: a child's stderr for error
// messages, bounded whatever the child prints.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// suffix is ": stderr: ..." for an error message, or "" when it said nothing.
func (t *tail) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}
