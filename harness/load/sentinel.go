package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/benchharness/harness/harness/scenario"
)

// Sentinel measures, live, the latency the loader itself adds during a
// step: a low-rate stream, paced and sent by the same code as the step's
// load, to an instant server inside the loader's own process. Whatever
// latency it sees is the loader's: its scheduler's queue, its timers, its
// CPU. A step whose sentinel p95 is not small next to the SLO cannot be
// blamed on the target, whatever the loader's CPU figure says (the loader
// can queue requests inside itself long before its CPU reads as busy).
type Sentinel struct {
	ln   net.Listener
	mix  *Mix
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]struct{}
}

// SentinelRate is the sentinel's request rate: enough for a p95 over a
// 3 s step, little enough to cost the loader about 1 % of a core.
const SentinelRate = 200

var sentinelResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

// StartSentinel starts the instant server on a free loopback port.
func StartSentinel() (*Sentinel, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sentinel: listen: %w", err)
	}
	s := &Sentinel{ln: ln, open: map[net.Conn]struct{}{}}
	s.mix = NewMix("http://"+ln.Addr().String(), &scenario.Scenario{Name: "sentinel",
		Requests: []scenario.Request{{Weight: 1, Method: "GET", Path: "/sentinel"}}})
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Measure runs the sentinel stream for d and returns its corrected latency.
func (s *Sentinel) Measure(ctx context.Context, d time.Duration) (Latency, error) {
	st, err := Attack(ctx, s.mix, Config{Rate: SentinelRate, Duration: d, Workers: 2, MaxWorkers: 64, Connections: 64, Timeout: 10 * time.Second})
	if err != nil {
		return st.Corrected, fmt.Errorf("sentinel: %w", err)
	}
	if st.Success < 1 {
		return st.Corrected, fmt.Errorf("sentinel: %.4f success: %v", st.Success, st.Errors)
	}
	return st.Corrected, nil
}

// Close stops the server and closes its connections.
func (s *Sentinel) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.open {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Sentinel) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		s.open[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

// serve answers every request on c (headers only: the sentinel sends no
// body) with the same few bytes.
func (s *Sentinel) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.open, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimRight(line, "\r\n")) == 0 {
				break
			}
		}
		if _, err := c.Write(sentinelResponse); err != nil {
			return
		}
	}
}
