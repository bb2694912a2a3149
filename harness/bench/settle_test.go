package bench

import (
	"context"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/sample"
)

// busyUntil is a target whose CPU is all of its budget until a given
// instant, then nothing: a backlog being worked off after overload.
type busyUntil struct {
	until time.Time
	last  time.Time
}

func (b *busyUntil) Read(context.Context) (sample.Reading, error) {
	r := sample.Reading{At: time.Now()}
	if !b.last.IsZero() {
		r.Interval = r.At.Sub(b.last)
		end := r.At
		if b.until.Before(end) {
			end = b.until
		}
		busy := end.Sub(b.last)
		r.CPUSeconds = max(0, busy.Seconds())
	}
	b.last = r.At
	return r, nil
}

// Between steps the harness waits for the target to go idle, not a fixed
// pause: a target still working off a backlog delays the next step, up to
// the limit, and the wait says whether it ended idle.
func TestSettleWaitsForTheTargetToGoIdle(t *testing.T) {
	cases := []struct {
		name     string
		busyFor  time.Duration
		limit    time.Duration
		idle     bool
		min, max time.Duration
	}{
		{"idle at once: the least wait and two quiet looks", 0, 5 * time.Second, true, 100 * time.Millisecond, 1500 * time.Millisecond},
		{"busy for 1.2 s: waits it out", 1200 * time.Millisecond, 5 * time.Second, true, 1200 * time.Millisecond, 3 * time.Second},
		{"busy past the limit: gives up, not idle", time.Hour, 1500 * time.Millisecond, false, 1500 * time.Millisecond, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			src := &busyUntil{until: time.Now().Add(c.busyFor)}
			s := sample.Start(ctx, src, time.Hour) // only the marks read it
			t.Cleanup(s.Stop)
			o := &Observer{Target: s, Budget: 1}
			st := o.Settle(ctx, 100*time.Millisecond, c.limit, 0.1)
			got := time.Duration(st.Seconds * float64(time.Second))
			if st.Idle != c.idle || got < c.min || got > c.max {
				t.Fatalf("settle %+v (%s), want idle=%v after %s to %s", st, got, c.idle, c.min, c.max)
			}
		})
	}
}
