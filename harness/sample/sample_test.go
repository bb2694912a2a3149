package sample

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	if f := os.Getenv("SAMPLE_TEST_SHARE"); f != "" {
		share(f, os.Getenv("SAMPLE_TEST_SHARE_FORK") == "1")
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

const sharedMB = 64

// share maps the sharedMB file at path, shared, reads every page of it so
// that all are resident in this process, and, as the parent, starts one
// child doing the same: two processes holding the same sharedMB of pages,
// as forked workers hold their common code and data. Both wait to be killed.
func share(path string, parent bool) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, sharedMB<<20, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sum := 0
	for i := 0; i < len(mem); i += os.Getpagesize() {
		sum += int(mem[i])
	}
	if parent {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SAMPLE_TEST_SHARE_FORK=0")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for {
		time.Sleep(time.Hour)
		sum += int(mem[sum%len(mem)])
	}
}

// The PSS of a process tree counts the pages its processes share once;
// their RSS counts them once per process.
func TestProcessesReadPSSOfTheTree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared")
	if err := os.WriteFile(path, make([]byte, sharedMB<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PSS(int32(os.Getpid())); err != nil {
		t.Skipf("this kernel gives no PSS: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SAMPLE_TEST_SHARE="+path, "SAMPLE_TEST_SHARE_FORK=1")
	cmd.Stderr = os.Stderr
	root := startGroup(t, cmd)

	// Wait until both processes hold the whole file, rather than sleeping a guess.
	src := NewProcesses(Tree(root))
	var r Reading
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, _ := Tree(root)()
		var err error
		r, err = src.Read(context.Background())
		if err == nil && len(pids) == 2 && r.RSSBytes > 2*sharedMB<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tree of %d (%v) never held the shared file twice (RSS %d bytes)", root, pids, r.RSSBytes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A new source reads PSS at its first reading, then not again within
	// PSSEvery.
	src = NewProcesses(Tree(root))
	r, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := src.Read(context.Background()); again.PSSBytes != 0 {
		t.Errorf("PSS read again %v after the first reading, want every %v", again.At.Sub(r.At), PSSEvery)
	}
	if r, _ := NewProcesses(Tree(root)).WithoutPSS().Read(context.Background()); r.PSSBytes != 0 {
		t.Errorf("PSS %d bytes read by a source without PSS", r.PSSBytes)
	}
	rss, pss := float64(r.RSSBytes)/(1<<20), float64(r.PSSBytes)/(1<<20)
	t.Logf("two processes sharing %d MB: RSS sum %.1f MB, PSS sum %.1f MB", sharedMB, rss, pss)
	if pss <= 0 || pss > rss {
		t.Fatalf("PSS sum %.1f MB, want in (0, RSS sum %.1f MB]", pss, rss)
	}
	// The file's pages are counted twice in the RSS and once in the PSS;
	// a quarter of the file is left for the pages the two share with other
	// processes (the test binary's code, libc).
	if rss-pss < 0.75*sharedMB {
		t.Fatalf("RSS sum %.1f MB - PSS sum %.1f MB = %.1f MB, want the shared %d MB counted once (a difference of at least %.0f MB)",
			rss, pss, rss-pss, sharedMB, 0.75*sharedMB)
	}
}

func TestRollupField(t *testing.T) {
	rollup := "55e2e68b4000-7fffb8090000 ---p 00000000 00:00 0    [rollup]\nRss:     1744 kB\nPss:      459 kB\nPss_Anon:   112 kB\n"
	for _, c := range []struct {
		in, name string
		want     uint64
		err      bool
	}{
		{rollup, "Pss:", 459, false},
		{rollup, "Rss:", 1744, false},
		{"Rss: 1744 kB\nPss_Anon: 112 kB\n", "Pss:", 0, true},
		{"Pss:\n", "Pss:", 0, true},
	} {
		got, err := rollupField([]byte(c.in), c.name)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("rollupField(%q, %s) = %d, %v; want %d, error %v", c.in, c.name, got, err, c.want, c.err)
		}
	}
}

// A reading without a PSS (a process that could not be read) is left out
// of the PSS mean rather than counted as zero.
func TestBetweenAveragesPSSOverTheReadingsThatHaveIt(t *testing.T) {
	t0 := time.Now()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }
	s := &Sampler{interval: time.Millisecond, readings: []Reading{
		{At: at(1), RSSBytes: 100 << 20, PSSBytes: 60 << 20},
		{At: at(2), RSSBytes: 100 << 20},
		{At: at(3), RSSBytes: 120 << 20, PSSBytes: 80 << 20},
	}}
	st := s.Between(at(0), at(4))
	if st.PSSMeanMB != 70 {
		t.Errorf("PSS mean %.2f MB, want 70 (the mean of 60 and 80)", st.PSSMeanMB)
	}
	if st.RSSMeanMB < 106.6 || st.RSSMeanMB > 106.7 || st.RSSPeakMB != 120 {
		t.Errorf("RSS mean %.2f peak %.2f MB, want 106.67 and 120", st.RSSMeanMB, st.RSSPeakMB)
	}
	s.readings[0].PSSBytes, s.readings[2].PSSBytes = 0, 0
	if st := s.Between(at(0), at(4)); st.PSSMeanMB != 0 {
		t.Errorf("PSS mean %.2f MB with no PSS read, want 0 (not measured)", st.PSSMeanMB)
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
