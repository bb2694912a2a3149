package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/contract"
)

// gcWindow brackets a step with the target's own GC report: POST
// /gc/reset before it, GET /gc/stats after, so the figures are the
// step's alone (targets/README.md, "The GC load"). A server that does not
// answer them (one measured by `harness run`) simply has none.
type gcWindow struct {
	base   string
	client *http.Client
}

func newGCWindow(base string) *gcWindow {
	return &gcWindow{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 5 * time.Second}}
}

// reset starts the window.
func (g *gcWindow) reset(ctx context.Context) error {
	resp, err := g.do(ctx, http.MethodPost, "/gc/reset")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST /gc/reset: status %d, want 204", resp.StatusCode)
	}
	return nil
}

// read returns the runtime's figures since reset.
func (g *gcWindow) read(ctx context.Context) (*contract.GCStats, error) {
	resp, err := g.do(ctx, http.MethodGet, "/gc/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("GET /gc/stats: read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /gc/stats: status %d", resp.StatusCode)
	}
	s, err := contract.DecodeGCStats(body)
	if err != nil {
		return nil, fmt.Errorf("GET /gc/stats: %w", err)
	}
	return &s, nil
}

func (g *gcWindow) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

// gcLine is a GC report in one line, for the log.
func gcLine(g *contract.GCStats) string {
	parts := []string{g.Runtime, fmt.Sprintf("%d live objects", g.LiveObjects)}
	if g.Collections != nil {
		parts = append(parts, fmt.Sprintf("%d collections", *g.Collections))
	}
	if g.PauseP99MS != nil && g.PauseMaxMS != nil {
		parts = append(parts, fmt.Sprintf("pause p99 %.3f ms, max %.3f ms", *g.PauseP99MS, *g.PauseMaxMS))
	}
	if g.LargestProcessGCMS != nil {
		parts = append(parts, fmt.Sprintf("largest process GC %.0f ms", *g.LargestProcessGCMS))
	}
	return strings.Join(parts, ", ")
}
