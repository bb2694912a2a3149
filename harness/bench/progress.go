package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/benchharness/harness/harness/load"
)

// Progress tells the user what is happening: a live status line on a
// terminal, plain log lines elsewhere (CI).
type Progress struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	live bool
}

// NewProgress writes to f, live when f is a terminal.
func NewProgress(f *os.File) *Progress {
	return &Progress{w: f, tty: term.IsTerminal(int(f.Fd()))}
}

// NewPlainProgress writes plain lines to w (tests, logs).
func NewPlainProgress(w io.Writer) *Progress { return &Progress{w: w} }

// Logf prints one line that stays.
func (p *Progress) Logf(format string, a ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
	fmt.Fprintf(p.w, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

// Live shows a step in progress; a no-op when not on a terminal, where the
// step's final line is enough.
func (p *Progress) Live(target, phase string, s load.Step, cpuPct, rssMB float64) {
	if p == nil || !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[K  %s %s: offered %.0f/s achieved %.0f/s p95 %.2f ms CPU %.0f%% RSS %.0f MB",
		target, phase, s.Offered, s.Achieved, s.Corrected.P95, cpuPct, rssMB)
	p.live = true
}
