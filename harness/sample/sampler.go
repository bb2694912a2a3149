// Package sample measures a server's CPU and memory while it is under load,
// from a process tree (Processes) or a cgroup (Cgroup).
package sample

import (
	"context"
	"sync"
	"time"
)

// Reading is one sample of a whole target (all its processes, or its container).
type Reading struct {
	At time.Time
	// CPUSeconds is the CPU time used since the previous reading, over
	// Interval of wall time. Windows are averaged as ΣCPUSeconds/ΣInterval:
	// a mean of per-tick percentages would be skewed when ticks bunch up
	// (a throttled or busy sampler).
	CPUSeconds float64
	Interval   time.Duration
	RSSBytes   uint64
	// PSSBytes is the proportional set size summed over the same processes
	// (see PSS); 0 when it was not read at this reading (see PSSEvery) or
	// could not be read for every one of the processes, as a partial sum
	// would read low.
	PSSBytes uint64
}

// Source produces readings; local process trees and containers differ in how.
type Source interface {
	Read(ctx context.Context) (Reading, error)
}

// CPUPct is the reading's CPU use in % of one CPU (200 = two CPUs busy).
func (r Reading) CPUPct() float64 {
	if r.Interval <= 0 {
		return 0
	}
	return 100 * r.CPUSeconds / r.Interval.Seconds()
}

// Stats summarises the readings of a window.
type Stats struct {
	Samples   int     `json:"samples"`
	CPUMean   float64 `json:"cpu_mean_pct_of_one_cpu"`
	CPUMax    float64 `json:"cpu_max_pct_of_one_cpu"`
	RSSMeanMB float64 `json:"rss_mean_mb"`
	RSSPeakMB float64 `json:"rss_peak_mb"`
	// PSSMeanMB is the mean over the readings that have a PSS; 0 (and
	// absent from JSON) when none has.
	PSSMeanMB float64 `json:"pss_mean_mb,omitempty"`
}

// Sampler reads a Source at a fixed interval in the background and keeps the
// readings, so any window of a run can be summarised afterwards.
type Sampler struct {
	src      Source
	interval time.Duration
	readMu   sync.Mutex // serialises src.Read: each reading's CPU is the delta since the previous one

	mu       sync.Mutex
	readings []Reading
	lastErr  error

	cancel context.CancelFunc
	done   chan struct{}
}

// Start begins sampling src every interval until Stop or ctx ends.
func Start(ctx context.Context, src Source, interval time.Duration) *Sampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &Sampler{src: src, interval: interval, cancel: cancel, done: make(chan struct{})}
	go s.loop(ctx)
	return s
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	// The first read only sets the CPU baseline.
	s.readMu.Lock()
	_, _ = s.src.Read(ctx)
	s.readMu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.read(ctx)
		}
	}
}

// read takes one reading and keeps it.
func (s *Sampler) read(ctx context.Context) (Reading, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	r, err := s.src.Read(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil { // a cancelled read is no fault of the source
			s.lastErr = err
		}
		return r, err
	}
	s.readings = append(s.readings, r)
	return r, nil
}

// Mark takes a reading now and returns its instant, to open or close a
// window that Between then covers exactly: the ticks alone would begin a
// step's window up to one interval early (idle time counted in it) and end
// it up to one interval early (load left out), about 7% on a 3 s step.
func (s *Sampler) Mark(ctx context.Context) time.Time {
	r, err := s.read(ctx)
	if err != nil || r.At.IsZero() {
		return time.Now()
	}
	return r.At
}

// Stop ends sampling and waits for the loop to finish.
func (s *Sampler) Stop() {
	s.cancel()
	<-s.done
}

// Err is the last read error, if any.
func (s *Sampler) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Between summarises the readings taken in (from, to]: each reading covers
// the time since the one before it, so with Marks at from and to this is
// exactly the window.
func (s *Sampler) Between(from, to time.Time) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st Stats
	var rssSum, pssSum, cpuSum float64
	var wall time.Duration
	pssN := 0
	for _, r := range s.readings {
		if !r.At.After(from) || r.At.After(to) {
			continue
		}
		st.Samples++
		cpuSum += r.CPUSeconds
		wall += r.Interval
		// Only full-length ticks count for the maximum; a bunched-up tick's
		// ratio is noise.
		if r.Interval >= s.interval/2 {
			st.CPUMax = max(st.CPUMax, r.CPUPct())
		}
		mb := float64(r.RSSBytes) / (1 << 20)
		rssSum += mb
		st.RSSPeakMB = max(st.RSSPeakMB, mb)
		if r.PSSBytes > 0 {
			pssSum += float64(r.PSSBytes) / (1 << 20)
			pssN++
		}
	}
	if wall > 0 {
		st.CPUMean = 100 * cpuSum / wall.Seconds()
	}
	if st.Samples > 0 {
		st.RSSMeanMB = rssSum / float64(st.Samples)
	}
	if pssN > 0 {
		st.PSSMeanMB = pssSum / float64(pssN)
	}
	return st
}

// Last returns the most recent reading, for live progress.
func (s *Sampler) Last() (Reading, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.readings) == 0 {
		return Reading{}, false
	}
	return s.readings[len(s.readings)-1], true
}
