package sample

// A sampler in another process, for a target the harness cannot read
// itself (a pod's sidecar, on a cluster node): Stream writes each reading
// as a line, with CPU time cumulative so a line lost or read late costs
// resolution, never CPU; Follow reads those lines back as a Source.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/benchharness/harness/harness/logline"
)

// linePrefix marks sample lines in the sampler's output, which in a
// cluster is its container's log and may carry other lines.
const linePrefix = "harness-sample "

// Line is one reading on the wire.
type Line struct {
	// AtNS is when the sampler read it, on its own clock (Unix ns).
	AtNS int64 `json:"at_ns"`
	// CPUSeconds is the CPU time used since the stream began.
	CPUSeconds float64 `json:"cpu_s"`
	RSSBytes   uint64  `json:"rss"`
	PSSBytes   uint64  `json:"pss,omitempty"`
}

// WriteLine writes l as one line.
func WriteLine(w io.Writer, l Line) error {
	if err := logline.Write(w, linePrefix, l); err != nil {
		return fmt.Errorf("sample: line: %w", err)
	}
	return nil
}

// ParseLine reads a sample line; ok is false for any other line.
func ParseLine(b []byte) (l Line, ok bool, err error) {
	ok, err = logline.Parse(b, linePrefix, &l)
	if err != nil {
		return Line{}, true, fmt.Errorf("sample: line: %w", err)
	}
	return l, ok, nil
}

// DefaultStreamEvery is a sidecar's interval, the local runtime's.
const DefaultStreamEvery = 200 * time.Millisecond

// Stream reads src every interval and writes a line per reading to w
// until ctx ends (then it returns nil) or w fails.
func Stream(ctx context.Context, src Source, every time.Duration, w io.Writer) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var cpu float64
	for {
		r, err := src.Read(ctx)
		if err == nil {
			cpu += r.CPUSeconds
			l := Line{AtNS: r.At.UnixNano(), CPUSeconds: cpu, RSSBytes: r.RSSBytes, PSSBytes: r.PSSBytes}
			if err := WriteLine(w, l); err != nil {
				return fmt.Errorf("sample: write a reading: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Followed is a Source over a stream of sample lines: each Read is the
// CPU used between the last line seen at the previous Read and the last
// line seen now, over the sampler's own interval between them, and the
// memory of the last line. Readings are stamped with this machine's clock
// when read, so windows marked here (Sampler.Mark) lag the sampler by the
// stream's delivery delay.
type Followed struct {
	mu     sync.Mutex
	latest Line
	have   bool
	err    error // why the stream ended, once it has

	prev    Line
	hasPrev bool
}

// Follow reads sample lines from r in the background, until r ends.
func Follow(r io.Reader) *Followed {
	f := &Followed{}
	go f.read(r)
	return f
}

func (f *Followed) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l, ok, err := ParseLine(sc.Bytes())
		if !ok || err != nil {
			continue
		}
		f.mu.Lock()
		f.latest, f.have = l, true
		f.mu.Unlock()
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	f.mu.Lock()
	f.err = fmt.Errorf("sample: the sampler's stream ended: %w", err)
	f.mu.Unlock()
}

// Read implements Source. The first reading with a line only sets the
// baseline, as other Sources do.
func (f *Followed) Read(ctx context.Context) (Reading, error) {
	if err := ctx.Err(); err != nil {
		return Reading{}, err
	}
	f.mu.Lock()
	l, have, err := f.latest, f.have, f.err
	f.mu.Unlock()
	if err != nil {
		return Reading{}, err
	}
	if !have {
		return Reading{}, errors.New("sample: no reading from the sampler yet")
	}
	r := Reading{At: time.Now(), RSSBytes: l.RSSBytes, PSSBytes: l.PSSBytes}
	if f.hasPrev && l.AtNS > f.prev.AtNS {
		r.CPUSeconds = max(0, l.CPUSeconds-f.prev.CPUSeconds)
		r.Interval = time.Duration(l.AtNS - f.prev.AtNS)
	}
	f.prev, f.hasPrev = l, true
	return r, nil
}
