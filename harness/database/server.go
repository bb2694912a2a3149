package database

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/logline"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
)

const (
	// User is the cluster's superuser, trusted on loopback: the targets
	// connect as it, with no password.
	User = "bench"
	// SeedDatabase is the template every target's database is copied from.
	SeedDatabase = "bench_seed"
	// DefaultMaxConnections is max_connections when Spec leaves it 0.
	DefaultMaxConnections = 200

	// startTimeout bounds initdb plus the wait for the first connection.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a fast shutdown may take before SIGKILL.
	stopTimeout = 10 * time.Second
)

// Spec is how the database server is started.
type Spec struct {
	// CPUs the server may run on; empty means the CPUs this process was
	// started with.
	CPUs []int
	// Budget in vCPUs, may be fractional (a CFS quota); 0 means all of
	// CPUs, which the CPU set alone enforces.
	Budget float64
	// QuotaPeriod is the CFS period of a fractional budget; 0 means 100 ms.
	QuotaPeriod time.Duration
	// MemoryBytes caps the server's cgroup (shared_buffers included);
	// 0 leaves it uncapped.
	MemoryBytes int64
	// MaxConnections is max_connections; 0 means DefaultMaxConnections.
	MaxConnections int
	// LogPath receives initdb's and the server's output ("" discards it).
	LogPath string
	// Name is unique per run; it names the cgroup (bench-db-Name) or the
	// container (bench-db-Name, labelled with the run Name).
	Name string
}

// withDefaults fills what the caller left 0.
func (spec Spec) withDefaults() (Spec, error) {
	if spec.MaxConnections == 0 {
		spec.MaxConnections = DefaultMaxConnections
	}
	if spec.QuotaPeriod == 0 {
		spec.QuotaPeriod = 100 * time.Millisecond // the kernel's default CFS period
	}
	if len(spec.CPUs) == 0 {
		cpus, err := cpuset.Given()
		if err != nil {
			return spec, err
		}
		spec.CPUs = cpus
	}
	if spec.Budget <= 0 {
		spec.Budget = float64(len(spec.CPUs))
	}
	return spec, nil
}

// Server is a PostgreSQL the harness started: a local process (Start) or a
// container (StartDocker). The caller must defer Stop as soon as it has a
// Server, whatever happens next: Stop is what removes the processes or the
// container, the data directory and the cgroup.
type Server struct {
	spec    Spec
	version string
	port    int
	log     *os.File
	usage   sample.Source
	pinning string
	// stop ends the server and removes what its start made.
	stop func(ctx context.Context) error

	// The local server's (postgres.go).
	bindir  string
	runAs   *account
	dataDir string
	pin     *runtimes.Pinned
	pid     int

	// The container's (docker.go).
	ctr *container

	done     chan struct{}
	err      error
	stopOnce sync.Once
	stopErr  error
}

// testHook, when set (tests only), is called at each stage of a start
// ("datadir", "initdb", "postmaster"; "container"), so a test can cancel
// exactly there.
var testHook func(stage string, s *Server)

func (s *Server) hook(stage string) {
	if testHook != nil {
		testHook(stage, s)
	}
}

// settings are the server's -c flags: a benchmark's tuning, each for a
// reason, the same for the local server and the container.
func (s *Server) settings(socketDir string) []string {
	return []string{
		// Durability stays real: every commit's WAL reaches the disk, and
		// torn pages can be repaired.
		"fsync=on",
		"full_page_writes=on",
		// Commits do not wait for their WAL flush (the WAL writer flushes
		// within 200 ms): group commit's effect without risking corruption, so
		// a POST measures the database's work, not this machine's disk latency.
		"synchronous_commit=off",
		// The ~340 MB data set mostly fits, as on a production box sized for
		// its data.
		"shared_buffers=256MB",
		// Room for every target's pool plus the harness's own connections.
		"max_connections=" + strconv.Itoa(s.spec.MaxConnections),
		// No checkpoint storm in the middle of a measured step.
		"checkpoint_timeout=30min",
		"max_wal_size=4GB",
		// Short OLTP queries: compiling them would be the cost measured.
		"jit=off",
		// The harness runs VACUUM ANALYZE itself before each target (Fresh),
		// so no background vacuum lands in a step.
		"autovacuum=off",
		// The same memory behaviour on every machine, whatever it reserves.
		"huge_pages=off",
		// Loopback only; the unix socket goes with the run.
		"listen_addresses=127.0.0.1",
		"unix_socket_directories=" + socketDir,
		"port=" + strconv.Itoa(s.port),
	}
}

// waitReady connects until the server answers, it exits, ctx ends or
// startTimeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.ping(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres accepted no connection within %s (last: %v; %s)", startTimeout, err, s.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("start postgres: %w", ctx.Err())
		case <-s.done:
			return fmt.Errorf("postgres exited before accepting connections: %v (%s)", s.err, s.logTail())
		case <-tick.C:
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// openLog opens the spec's log for appending (or /dev/null).
func (s *Server) openLog() error {
	path := s.spec.LogPath
	if path == "" {
		path = os.DevNull
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	s.log = f
	return nil
}

// logTail is the end of the server's log, for an error message.
func (s *Server) logTail() string {
	if s.spec.LogPath == "" {
		return "no log kept"
	}
	lines, err := logline.TailFile(s.spec.LogPath, 5)
	if err != nil {
		return "log unreadable: " + err.Error()
	}
	return "log " + s.spec.LogPath + ": " + strings.Join(lines, " | ")
}

// DSN is the connection string of database name on this server.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, s.port, name)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Version is the server's `postgres --version`, for the record.
func (s *Server) Version() string { return s.version }

// PID is the local postmaster's process id (0 before it started, and for
// a container).
func (s *Server) PID() int { return s.pid }

// Usage reads CPU and memory of the server's processes (postmaster and
// backends): its cgroup, else its process tree, as for targets.
func (s *Server) Usage() sample.Source { return s.usage }

// Pinning says how the server's CPU budget is enforced, for the record.
func (s *Server) Pinning() string { return s.pinning }

// Done is closed when the server exits; Err then says how.
func (s *Server) Done() <-chan struct{} { return s.done }
func (s *Server) Err() error            { return s.err }

// Stop shuts the server down and removes everything its start made (see
// stopLocal and stopContainer). Pass a ctx that is not already done to let
// the shutdown be clean. Stop is safe to call more than once, and on a
// Server whose start failed halfway.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.stop != nil {
			errs = append(errs, s.stop(ctx))
		}
		if s.log != nil {
			s.log.Close()
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
