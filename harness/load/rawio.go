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
