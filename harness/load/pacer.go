package load

import (
	"cmp"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Pacer is a constant-rate vegeta.Pacer whose hits leave on time. vegeta's
// own pacer returns a wait that its attack loop passes to time.Sleep, and
// Go's timers reach the kernel through epoll_wait with millisecond timeouts:
// on this loader a hit due in 300 µs leaves up to 1 ms late, and since
// latency is measured from the intended send time (as it must be, or a
// loader that falls behind hides the target's queue), that lateness was
// reported as the target's. This pacer waits inside Pace instead, on a
// timerfd read through the netpoller (no rounding), set early by the
// wake-up lateness it measures as it goes, and spins the rest.
//
// Hit n (from 0) is due at n intervals after the attack began; Intended
// gives that instant for a result's sequence number.
type Pacer struct {
	Freq float64 // hits per second
	spin *spin   // nil: never spin, wake on the timer alone

	interval time.Duration
	early    time.Duration // a hit due within this long leaves now (see NewPacer)
	began    time.Time
	timer    *timerFD
	margin   time.Duration   // current estimate of the timer's lateness (high quantile)
	late     []time.Duration // the last 4096 wake-ups' lateness
	wakes    int
}

// earlyRelease is how early a pacer that does not spin lets a hit leave
// rather than arm its timer, unless the attack says otherwise
// (Config.ReleaseAhead). Arming, parking and waking cost this loader
// about 9 µs of CPU and, from idle, 35-40 µs more: at tens of thousands of
// hits per second, a timer per hit made the pacer the loader's largest
// cost. A hit let go early is no latency hidden (a result's latency is the
// larger of send-to-done and intended-to-done); the target sees arrivals
// bunched by at most this much, far below any SLO here.
const earlyRelease = 100 * time.Microsecond

// NewPacer paces freq hits per second, spinning as policy says (nil: never).
// A pacer that does not spin lets a hit due within ahead leave at once,
// together with the hits before it (0: earlyRelease).
func NewPacer(freq float64, policy *SpinPolicy, ahead time.Duration) *Pacer {
	p := &Pacer{Freq: freq, spin: newSpin(policy, freq), interval: time.Duration(float64(time.Second) / freq), margin: 50 * time.Microsecond}
	if p.spin == nil {
		p.early = cmp.Or(ahead, earlyRelease)
	}
	return p
}

// Pace implements vegeta.Pacer: it blocks until hit `hits` is due and
// returns no wait, so vegeta's time.Sleep(0) is a no-op.
func (p *Pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.began.IsZero() {
		p.began = time.Now().Add(-elapsed)
	}
	due := p.began.Add(time.Duration(hits) * p.interval)
	if p.spin != nil && time.Until(due) > p.margin {
		// Let the worker just given a hit send it before this goroutine
		// spends two syscalls arming its timer.
		runtime.Gosched()
	}
	if p.spin == nil && time.Until(due) <= p.early {
		return 0, false
	}
	p.waitUntil(due)
	return 0, false
}

// Rate implements vegeta.Pacer.
func (p *Pacer) Rate(time.Duration) float64 { return p.Freq }

// Interval is the time between two hits.
func (p *Pacer) Interval() time.Duration { return p.interval }

// Began is vegeta's attack start as Pace saw it; zero before the first hit.
func (p *Pacer) Began() time.Time { return p.began }

// Intended is when hit seq was due.
func (p *Pacer) Intended(seq uint64) time.Time { return p.began.Add(time.Duration(seq) * p.interval) }

// Close releases the timer.
func (p *Pacer) Close() {
	if p.timer != nil {
		p.timer.close()
	}
}

// Lateness is how late the timer woke (before any spin) at the 50th and
// 95th percentiles of the last wake-ups: what a pacer without the early
// wake would have added to every latency.
func (p *Pacer) Lateness() (p50, p95 time.Duration) {
	if len(p.late) == 0 {
		return 0, 0
	}
	s := slices.Clone(p.late)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*95/100]
}

func (p *Pacer) waitUntil(due time.Time) {
	spinning := p.spin != nil && p.spin.allowed()
	wake := due
	if spinning {
		wake = due.Add(-p.margin)
	}
	if time.Until(wake) > 0 {
		if spinning {
			p.spin.wakeAt.Store(wake.UnixNano())
		}
		p.sleepUntil(wake)
		if spinning {
			p.spin.wakeAt.Store(0)
		}
		late := time.Since(wake)
		p.learn(late)
	}
	if !spinning {
		return
	}
	for resumed := time.Now(); ; resumed = time.Now() {
		now := time.Now()
		p.spin.account(now.Sub(resumed))
		if !now.Before(due) || !p.spin.allowed() {
			return // due, or the loader got busy: its goroutines need the netpoller
		}
		runtime.Gosched()
	}
}

// learn tracks the 98th percentile of the timer's lateness by stochastic
// approximation: up by 49 steps when a wake is later than the estimate,
// down by 1 when it is not. A hit whose timer wakes later than the margin
// leaves late, and that shows in the step's p95: the margin must cover
// nearly every wake.
func (p *Pacer) learn(late time.Duration) {
	if len(p.late) < 4096 {
		p.late = append(p.late, late)
	} else {
		p.late[p.wakes%4096] = late
	}
	p.wakes++
	const step = time.Microsecond / 4
	if late > p.margin {
		p.margin += 49 * step
	} else {
		p.margin -= step
	}
	p.margin = min(max(p.margin, 0), p.spin.maxMargin())
}

func (p *Pacer) sleepUntil(t time.Time) {
	if p.timer == nil {
		var err error
		if p.timer, err = newTimerFD(); err != nil {
			p.timer = nil
		}
	}
	if p.timer == nil || p.timer.waitUntil(t) != nil {
		time.Sleep(time.Until(t))
	}
}

// SpinPolicy is the loader's policy on busy-waiting. From idle, a CPU of
// this kind of machine (a VM whose idle vCPU halts) takes 30-100 µs to run
// a woken thread, and a loader that parks between hits adds that to every
// latency it measures. At light rates, then, the pacer wakes early and
// spins to the due instant, and a request polls its socket for the answer.
// Spinning yields to every other goroutine and stops while more than
// MaxInflight requests are out (the netpoller must then run, and the CPU
// is awake anyway); above MaxRate it is off: the loader is busy enough that
// its timers fire on time, and its CPU figure must be work, not waiting.
type SpinPolicy struct {
	MaxRate     float64       `yaml:"max_rate" json:"max_rate"`         // req/s; above it, never spin
	ReadFor     time.Duration `yaml:"read_for" json:"read_for"`         // bounds one socket poll
	MaxMargin   time.Duration `yaml:"max_margin" json:"max_margin"`     // bounds how early the pacer wakes
	MaxInflight int32         `yaml:"max_inflight" json:"max_inflight"` // spin only while at most this many requests are out
}

// DefaultSpin is the policy a step uses unless told otherwise.
func DefaultSpin() *SpinPolicy {
	return &SpinPolicy{MaxRate: 2500, ReadFor: 2 * time.Millisecond, MaxMargin: 200 * time.Microsecond, MaxInflight: 2}
}

// spin is one attack's spinning state; nil when it does not spin.
type spin struct {
	SpinPolicy
	inflight atomic.Int32

	// wakeAt is when the pacer's timer is set to fire (UnixNano), 0 when it
	// is not waiting on it. A spinning reader stops before then: the timer
	// is read through the netpoller, which Go does not poll while any
	// goroutine is runnable, so a reader spinning across it would make the
	// pacer late by the rest of its spin.
	wakeAt atomic.Int64

	// own is the CPU time the spin loops took themselves (ns): from each
	// return to the loop until it next yields, not the time other
	// goroutines ran in between, so that CPU less own is the loader's work.
	own atomic.Int64
}

// account adds one stretch of a spin loop's own running time.
func (s *spin) account(d time.Duration) { s.own.Add(int64(d)) }

// newSpin returns the state for an attack at rate, or nil when the policy
// says not to spin at that rate.
func newSpin(p *SpinPolicy, rate float64) *spin {
	if p == nil || rate > p.MaxRate {
		return nil
	}
	return &spin{SpinPolicy: *p}
}

func (s *spin) allowed() bool { return s.inflight.Load() <= s.MaxInflight }

// keepReading says whether a reader spinning since start may go on: for
// at most ReadFor, and never past the moment the pacer's timer fires.
func (s *spin) keepReading(start, now time.Time) bool {
	if !s.allowed() || now.Sub(start) >= s.ReadFor {
		return false
	}
	w := s.wakeAt.Load()
	return w == 0 || now.UnixNano() < w
}

func (s *spin) maxMargin() time.Duration {
	if s == nil {
		return 0
	}
	return s.MaxMargin
}

// Spent is the CPU time spent spinning: what the loader used for
// precision, not for work. Each loop counts its own stretches between
// yields, so other goroutines' work in between is not in it.
func (s *spin) Spent() time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(s.own.Load())
}

// timerFD is a one-shot CLOCK_MONOTONIC timerfd read through Go's
// netpoller, which wakes as soon as the kernel's hrtimer fires.
type timerFD struct {
	fd   int
	f    *os.File
	rc   syscall.RawConn
	buf  [8]byte
	base time.Time // time.Now() at base mono
	mono int64     // CLOCK_MONOTONIC ns at base
}

func newTimerFD() (*timerFD, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Go's monotonic clock is CLOCK_MONOTONIC: the pair maps one onto the other.
	t := &timerFD{fd: fd, f: os.NewFile(uintptr(fd), "pacer-timerfd"), base: time.Now(), mono: ts.Nano()}
	if t.rc, err = t.f.SyscallConn(); err != nil {
		t.f.Close()
		return nil, err
	}
	return t, nil
}

func (t *timerFD) waitUntil(at time.Time) error {
	abs := t.mono + int64(at.Sub(t.base))
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(abs)}
	// Raw, as the transport's syscalls are (rawio.go): settime never blocks.
	if _, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(t.fd), unix.TFD_TIMER_ABSTIME,
		uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		return e
	}
	_, err := readRaw(t.rc, t.buf[:])
	return err
}

func (t *timerFD) close() { _ = t.f.Close() }
