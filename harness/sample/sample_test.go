package sample

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

const (
	burnMB    = 200
	burnShare = 0.5 // of one CPU
)

func TestMain(m *testing.M) {
	if os.Getenv("SAMPLE_TEST_BURN") == "1" {
		burn()
		return
	}
	os.Exit(m.Run())
}

// burn holds burnMB of touched memory and keeps one CPU busy burnShare of
// the time, in 10 ms periods, until killed.
func burn() {
	mem := make([]byte, burnMB<<20)
	for i := range mem {
		mem[i] = byte(i)
	}
	period := 10 * time.Millisecond
	busy := time.Duration(burnShare * float64(period))
	x := 0
	for {
		start := time.Now()
		for time.Since(start) < busy {
			x++
		}
		time.Sleep(period - busy)
		mem[x%len(mem)]++
	}
}

// startGroup starts cmd in a process group of its own and kills the whole
// group at cleanup.
func startGroup(t *testing.T, cmd *exec.Cmd) int32 {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return int32(cmd.Process.Pid)
}

func startBurner(t *testing.T) int32 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SAMPLE_TEST_BURN=1", "GOMAXPROCS=1")
	return startGroup(t, cmd)
}

func TestSamplerMeasuresKnownLoad(t *testing.T) {
	pid := startBurner(t)
	// Wait for the allocation to be touched rather than sleeping a guess.
	src := NewProcesses(Tree(pid))
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := src.Read(context.Background())
		if err == nil && r.RSSBytes > burnMB<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("burner never reached %d MB (last %d bytes)", burnMB, r.RSSBytes)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := Start(context.Background(), NewProcesses(Tree(pid)), 100*time.Millisecond)
	from := time.Now()
	time.Sleep(3 * time.Second) // the measurement window itself
	st := s.Between(from, time.Now())
	s.Stop()
	t.Logf("samples %d, CPU mean %.1f%% max %.1f%%, RSS mean %.1f MB peak %.1f MB", st.Samples, st.CPUMean, st.CPUMax, st.RSSMeanMB, st.RSSPeakMB)
	if st.Samples < 20 {
		t.Fatalf("only %d samples in 3 s at 100 ms", st.Samples)
	}
	if want := 100 * burnShare; st.CPUMean < want-12 || st.CPUMean > want+12 {
		t.Errorf("CPU mean %.1f%%, want %.0f%% ± 12", st.CPUMean, want)
	}
	if st.RSSMeanMB < burnMB || st.RSSMeanMB > burnMB*1.2 {
		t.Errorf("RSS mean %.1f MB, want %d MB to +20%%", st.RSSMeanMB, burnMB)
	}
}

func TestTreeFindsChildren(t *testing.T) {
	// sh forks a sleep: the tree must list both.
	sh := startGroup(t, exec.Command("sh", "-c", "sleep 30 & wait"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, _ := Tree(sh)()
		if len(pids) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree of %d = %v, want the shell and its sleep", sh, pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// steadySource reports a constant CPU share over whatever time passed
// since its previous reading.
type steadySource struct {
	share float64
	last  time.Time
}

func (s *steadySource) Read(context.Context) (Reading, error) {
	r := Reading{At: time.Now(), RSSBytes: 1 << 20}
	if !s.last.IsZero() {
		r.Interval = r.At.Sub(s.last)
		r.CPUSeconds = s.share * r.Interval.Seconds()
	}
	s.last = r.At
	return r, nil
}

// Marks bound a window exactly: a step shorter than the sampling interval
// still gets its CPU, over its own duration and nothing else.
func TestMarksCoverTheWindowExactly(t *testing.T) {
	s := Start(context.Background(), &steadySource{share: 0.5}, time.Hour)
	t.Cleanup(s.Stop)
	before := s.Mark(context.Background())
	time.Sleep(20 * time.Millisecond) // idle time before the step: not in it
	from := s.Mark(context.Background())
	time.Sleep(150 * time.Millisecond)
	to := s.Mark(context.Background())
	st := s.Between(from, to)
	if st.Samples != 1 || st.CPUMean < 49.9 || st.CPUMean > 50.1 {
		t.Fatalf("window of one step: %+v, want 1 sample at 50%% CPU", st)
	}
	if all := s.Between(before, to); all.Samples != 2 {
		t.Fatalf("window from an earlier mark: %d samples, want 2", all.Samples)
	}
}

// With a counter for the whole set, CPU is its delta, whatever the
// processes listed: one that exited between readings still counts.
func TestProcessesCPUFromACounter(t *testing.T) {
	total := 10.0
	p := NewProcesses(func() ([]int32, error) { return []int32{int32(os.Getpid())}, nil }).
		CPUFrom(func() (float64, error) { return total, nil })
	if _, err := p.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	total += 0.25
	r, err := p.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.CPUSeconds != 0.25 {
		t.Fatalf("CPU %.3f s, want the counter's delta 0.25 s", r.CPUSeconds)
	}
}
