package sample

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// counting is a Source whose every reading used 0.1 s of CPU over 0.2 s.
type counting struct{ n int }

func (c *counting) Read(ctx context.Context) (Reading, error) {
	c.n++
	return Reading{At: time.Unix(0, int64(c.n)*int64(200*time.Millisecond)), CPUSeconds: 0.1, Interval: 200 * time.Millisecond,
		RSSBytes: uint64(c.n) << 20}, nil
}

func TestStreamLinesAreCumulative(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		if strings.Count(buf.String(), "\n") >= 2 {
			cancel()
		}
		return buf.Write(p)
	})
	if err := Stream(ctx, &counting{}, time.Millisecond, w); err != nil {
		t.Fatal(err)
	}
	var cpu []float64
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		l, ok, err := ParseLine([]byte(line))
		if !ok || err != nil {
			t.Fatalf("line %q: ok %v, %v", line, ok, err)
		}
		cpu = append(cpu, l.CPUSeconds)
	}
	if len(cpu) < 3 || cpu[1]-cpu[0] < 0.099 || cpu[2]-cpu[1] < 0.099 {
		t.Fatalf("cumulative CPU = %v, want steps of 0.1 s", cpu)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFollowedReadsDeltasAndEnds(t *testing.T) {
	pr, pw := io.Pipe()
	f := Follow(pr)
	ctx := context.Background()
	send := func(l Line) {
		t.Helper()
		if err := WriteLine(pw, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Read(ctx); err == nil {
		t.Fatal("a reading before any line: want an error")
	}
	_, _ = io.WriteString(pw, "some other log line\n")
	send(Line{AtNS: int64(time.Second), CPUSeconds: 1, RSSBytes: 10})
	waitFor(t, func() bool { _, err := f.Read(ctx); return err == nil })
	send(Line{AtNS: int64(1500 * time.Millisecond), CPUSeconds: 1.25, RSSBytes: 20})
	var r Reading
	waitFor(t, func() bool { r, _ = f.Read(ctx); return r.Interval > 0 })
	if r.Interval != 500*time.Millisecond || r.CPUSeconds != 0.25 || r.RSSBytes != 20 || r.CPUPct() != 50 {
		t.Fatalf("reading = %+v, want 0.25 s CPU over 0.5 s, RSS 20", r)
	}
	pw.Close()
	waitFor(t, func() bool { _, err := f.Read(ctx); return err != nil && strings.Contains(err.Error(), "ended") })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
