package load

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loader's hot syscalls (reads and writes on non-blocking sockets, the
// pacer's timer) go through RawSyscall: they never block, and the ordinary
// path's entersyscall wakes the runtime's sysmon thread whenever the
// scheduler was idle, which on a one-CPU loader means after every hit at a
// light rate. sysmon then polls every 20 µs on the loader's CPU for a
// millisecond, and on a VM each of its wake-ups costs about 10 µs of that
// CPU, in the middle of the requests being timed. Blocking still goes
// through the netpoller, via syscall.RawConn.

func rawRead(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// readRaw reads once from rc, waiting in the netpoller while the socket has
// nothing to read.
func readRaw(rc syscall.RawConn, p []byte) (n int, err error) {
	cerr := rc.Read(func(fd uintptr) bool {
		n, err = rawRead(fd, p)
		return err != unix.EAGAIN
	})
	if cerr != nil {
		return 0, cerr
	}
	return n, err
}

// writeRaw writes all of p to rc, waiting in the netpoller while the
// socket's buffer is full.
func writeRaw(rc syscall.RawConn, p []byte) error {
	var err error
	cerr := rc.Write(func(fd uintptr) bool {
		for len(p) > 0 {
			var n int
			n, err = rawWrite(fd, p)
			if err == unix.EAGAIN {
				err = nil
				return false
			}
			if err != nil {
				return true
			}
			p = p[n:]
		}
		return true
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// stampSpace holds one SCM_TIMESTAMPNS control message.
const stampSpace = 64

// recv reads once from fd, non-blocking. On a socket with SO_TIMESTAMPNS it
// goes through recvmsg and records the kernel's receive time of the data
// read in c.stamp (arrival.go).
func (c *conn) recv(fd uintptr, p []byte) (int, error) {
	if !c.stamps {
		return rawRead(fd, p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	var oob [stampSpace]byte
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	msg := unix.Msghdr{Iov: &iov, Iovlen: 1, Control: &oob[0]}
	msg.SetControllen(len(oob))
	n, _, e := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, e
	}
	// Only this read's own stamp: a response read in parts ends with its
	// last part, and a part without one (data queued before any socket had
	// timestamps on) leaves none, so that the read times it.
	c.stamp = parseStamp(oob[:msg.Controllen])
	return int(n), nil
}

// parseStamp returns the SCM_TIMESTAMPNS time in a control buffer (Unix
// ns), 0 if there is none. It walks the buffer by hand: the x/sys parser
// allocates, and this runs for every read.
func parseStamp(b []byte) int64 {
	hdr := unix.CmsgLen(0)
	for len(b) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < hdr || l > len(b) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && l-hdr >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&b[hdr]))
			return ts.Nano()
		}
		b = b[min(unix.CmsgSpace(l-hdr), len(b)):]
	}
	return 0
}

// readWait reads once from c, waiting in the netpoller while the socket
// has nothing to read.
func (c *conn) readWait(p []byte) (n int, err error) {
	cerr := c.raw.Read(func(fd uintptr) bool {
		n, err = c.recv(fd, p)
		return err != unix.EAGAIN
	})
	if cerr != nil {
		return 0, cerr
	}
	return n, err
}
