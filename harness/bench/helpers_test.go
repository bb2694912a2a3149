package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/benchharness/harness/harness/agent"
	"github.com/benchharness/harness/harness/calibrate"
	"github.com/benchharness/harness/harness/contract"
)

// TestMain lets the test binary double as a target process: with
// BENCH_TEST_HELPER set it serves instead of running tests.
func TestMain(m *testing.M) {
	// The test binary is also the harness binary's loader agent and its
	// calibration's reference server.
	if len(os.Args) > 1 && (os.Args[1] == "agent" || os.Args[1] == "refserver") {
		serve := func() error { return agent.Serve(context.Background(), os.Args[2:], os.Stdin, os.Stdout, nil) }
		if os.Args[1] == "refserver" {
			serve = func() error { return calibrate.ServeCommand(context.Background(), os.Args[2:], os.Stdout) }
		}
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	switch os.Getenv("BENCH_TEST_HELPER") {
	case "contract-server":
		contractServer()
		return
	}
	os.Exit(m.Run())
}

// contractServer serves the reference handler on $HOST:$PORT (or a free
// port, printed on stdout), writes its PID to $PIDFILE, and exits with
// status 3 after $DIE_AFTER requests, to play a target that crashes.
func contractServer() {
	if f := os.Getenv("PIDFILE"); f != "" {
		_ = os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
	addr := "127.0.0.1:" + os.Getenv("PORT")
	if os.Getenv("PORT") == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	h := contract.Handler()
	if live := os.Getenv(contract.LiveObjectsEnv); live != "" && os.Getenv("NO_GC") == "" {
		h = fakeGC(h, live)
	}
	dieAfter, _ := strconv.ParseInt(os.Getenv("DIE_AFTER"), 10, 64)
	var n atomic.Int64
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dieAfter > 0 && n.Add(1) > dieAfter {
			fmt.Fprintln(os.Stderr, "helper: dying on purpose after", dieAfter, "requests")
			os.Exit(3)
		}
		if os.Getenv("BREAK") == "json" && r.URL.Path == "/json" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("Hello, World!"))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// fakeGC plays a garbage-collected runtime whose every request costs one
// collection: /gc/stats reports the live objects the environment asked for
// and, as collections and pauses, the requests served since /gc/reset, so
// a test can tell exactly which requests a window covered.
func fakeGC(h http.Handler, live string) http.Handler {
	var served atomic.Int64
	liveN, _ := strconv.ParseInt(live, 10, 64)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gc/reset":
			served.Store(0)
			w.WriteHeader(http.StatusNoContent)
		case "/gc/stats":
			n := served.Load()
			p50, p99, mx := 0.01, 0.02, 0.03
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(contract.GCStats{Runtime: contract.GCRuntimeGo, LiveObjects: liveN,
				Collections: &n, Pauses: &n, PauseP50MS: &p50, PauseP99MS: &p99, PauseMaxMS: &mx})
		default:
			served.Add(1)
			h.ServeHTTP(w, r)
		}
	})
}

// startHelperServer runs the contract server as a separate process, behind
// an optional command prefix (e.g. taskset -c 0), and returns its base URL;
// the process is killed at cleanup.
func startHelperServer(t *testing.T, prefix ...string) (string, *os.Process) {
	t.Helper()
	argv := append(prefix, os.Args[0], "-test.run=^$")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "BENCH_TEST_HELPER=contract-server", "PORT=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper server: %v", err)
	}
	return "http://" + line[:len(line)-1], cmd.Process
}

// writeTarget makes a targets/<name>/target.yaml whose server is this test
// binary in contract-server mode.
func writeTarget(t *testing.T, root, name, extra string, env map[string]string) {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf("name: %s\nlanguage: Go\nframework: test double\nsources: [target.yaml]\nbuild: \"true\"\nrun: [%q, \"-test.run=^$\"]\nhealth: /health\nstart_timeout: 10s\nenv:\n  BENCH_TEST_HELPER: contract-server\n", name, os.Args[0])
	for k, v := range env {
		y += fmt.Sprintf("  %s: %q\n", k, v)
	}
	y += extra
	if err := os.WriteFile(filepath.Join(dir, "target.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// testProgress collects a run's progress lines and shows them only when the
// test fails.
func testProgress(t *testing.T) *Progress {
	var log bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(log.String())
		}
	})
	return NewPlainProgress(&log)
}

// interruptUnderLoad returns a context cancelled as Ctrl-C would be, 1.5 s
// after the target that writes pidfile is up (and under load).
func interruptUnderLoad(t *testing.T, pidfile string) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(pidfile); err == nil {
				time.Sleep(1500 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return ctx
}
