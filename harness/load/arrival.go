package load

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A response's latency ends when its last byte reached the loader's socket,
// by the kernel's clock, not when the loader got round to reading it: every
// socket of the transport has SO_TIMESTAMPNS on, so each read carries the
// time the kernel received the data it returns (on loopback, the moment the
// server's write reached the loader's socket), and RoundTrip records the
// last one per request. What the loader then takes to wake and read (tens
// of µs from an idle CPU here, or a queue of its own when it is busy) is
// its own, and stays out of the target's figures. The send side is not
// changed: latency still starts at the intended send time.

// Linux stamps received data machine-wide only while some socket asks for
// it, and turns that on in a work item after the first one does: a step
// that opened the first stamped socket since the last step closed its own
// would get its first responses unstamped (timed at the read). One socket
// held for the life of the process keeps the stamps on between steps.
var keepStamping = sync.OnceFunc(func() {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) != nil {
		unix.Close(fd)
	}
})

// arrivals keeps, per vegeta sequence number, when the request's response
// arrived (Unix ns): a ring, since a result is tallied soon after its
// request ends. A result that has left it is timed at its read, as before.
type arrivals struct {
	mu   sync.Mutex
	ring [1 << 14]struct {
		seq uint64 // seq+1: zero marks an empty slot
		at  int64
	}
}

func (a *arrivals) put(seq uint64, at int64) {
	a.mu.Lock()
	e := &a.ring[seq%uint64(len(a.ring))]
	e.seq, e.at = seq+1, at
	a.mu.Unlock()
}

func (a *arrivals) get(seq uint64) (time.Time, bool) {
	a.mu.Lock()
	e := a.ring[seq%uint64(len(a.ring))]
	a.mu.Unlock()
	if e.seq != seq+1 || e.at == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, e.at), true
}

// requestSeq is vegeta's sequence number of a request (its X-Vegeta-Seq
// header), false without one.
func requestSeq(h map[string][]string) (uint64, bool) {
	v := h["X-Vegeta-Seq"]
	if len(v) != 1 {
		return 0, false
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	return n, err == nil
}
