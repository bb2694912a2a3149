package bench

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
	"github.com/benchharness/harness/harness/targets"
)

const spikeBytes = 1 << 30

// spikeRuntime starts targets locally, but their memory reads 1 GiB high
// while spiking is set: a start-up spike like Phoenix's, which builds its
// 10,000-user store during the warm-up.
type spikeRuntime struct {
	*runtimes.Local
	spiking *atomic.Bool
}

func (r spikeRuntime) Start(ctx context.Context, m *targets.Manifest, spec runtimes.Spec) (runtimes.Instance, error) {
	inst, err := r.Local.Start(ctx, m, spec)
	if err != nil {
		return nil, err
	}
	return spikeInstance{Instance: inst, src: spikeSource{inst.Usage(), r.spiking}}, nil
}

type spikeInstance struct {
	runtimes.Instance
	src spikeSource
}

func (i spikeInstance) Usage() sample.Source { return i.src }

type spikeSource struct {
	sample.Source
	spiking *atomic.Bool
}

func (s spikeSource) Read(ctx context.Context) (sample.Reading, error) {
	r, err := s.Source.Read(ctx)
	if s.spiking.Load() {
		r.RSSBytes += spikeBytes
		if r.PSSBytes > 0 {
			r.PSSBytes += spikeBytes
		}
	}
	return r, err
}

// lineWatch passes progress lines on to a buffer and calls on when a line
// contains what.
type lineWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	what string
	on   func()
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.Contains(string(p), w.what) {
		w.on()
	}
	return w.buf.Write(p)
}

// The fixed run's memory is the fixed run's alone: a spike that lasts
// until the warm-up step has ended is in the whole run's rss_peak_mb and
// in none of the fixed-run figures.
func TestFixedRunMemoryLeavesTheWarmupOut(t *testing.T) {
	root := t.TempDir()
	writeTarget(t, root, "spiky", "", nil)
	all, err := targets.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	p := tinyProfile()
	// Long enough for PSS readings (one a second) in the fixed run.
	p.FixedDuration = scenario.Duration(2500 * time.Millisecond)

	var spiking atomic.Bool
	spiking.Store(true)
	// The step's line is logged as the warm-up ends, before the cooldown
	// and the fixed run.
	watch := &lineWatch{what: "spiky: warmup ", on: func() { spiking.Store(false) }}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(watch.buf.String())
		}
	})
	run, dir, err := Run(context.Background(), Options{Targets: all, Profile: p, Scenario: apiScenario(t),
		Runtime: spikeRuntime{Local: &runtimes.Local{}, spiking: &spiking}, ResultsDir: t.TempDir(),
		RunID: "test-" + strconv.Itoa(os.Getpid()), Progress: NewPlainProgress(watch), SampleEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tg := run.Targets[0]
	if tg.Status != "ok" || tg.Warmup == nil || tg.Fixed == nil {
		t.Fatalf("spiky: status %s (%s), warm-up %v, fixed %v", tg.Status, tg.Reason, tg.Warmup != nil, tg.Fixed != nil)
	}
	spikeMB := float64(spikeBytes >> 20)
	if w := tg.Warmup.Target; w == nil || w.RSSPeakMB < spikeMB {
		t.Fatalf("the warm-up never saw the spike (%+v): the test proves nothing", w)
	}
	if tg.RSSPeakMB < spikeMB {
		t.Errorf("rss_peak_mb %.0f MB: the whole run's peak must include the warm-up's %.0f MB", tg.RSSPeakMB, spikeMB)
	}
	s := tg.Fixed.Sample
	if s.RSSMeanMB <= 0 || s.RSSPeakMB >= spikeMB || s.RSSMeanMB >= spikeMB {
		t.Errorf("fixed run RSS mean %.1f / peak %.1f MB, want the target's own (> 0, < %.0f)", s.RSSMeanMB, s.RSSPeakMB, spikeMB)
	}
	if s.PSSMeanMB <= 0 || s.PSSMeanMB > s.RSSPeakMB {
		t.Errorf("fixed run PSS mean %.1f MB, want in (0, RSS peak %.1f]", s.PSSMeanMB, s.RSSPeakMB)
	}

	row := readCSV(t, dir)["spiky"]
	num := func(col string) float64 {
		v, err := strconv.ParseFloat(row[col], 64)
		if err != nil {
			t.Fatalf("summary.csv %s = %q: %v", col, row[col], err)
		}
		return v
	}
	if num("rss_peak_mb") < spikeMB {
		t.Errorf("summary.csv rss_peak_mb %s, want the whole run's (≥ %.0f)", row["rss_peak_mb"], spikeMB)
	}
	for _, col := range []string{"rss_fixed_mean_mb", "rss_fixed_peak_mb", "pss_fixed_mean_mb"} {
		if v := num(col); v <= 0 || v >= spikeMB {
			t.Errorf("summary.csv %s = %s, want the fixed run's (> 0, < %.0f)", col, row[col], spikeMB)
		}
	}
}
