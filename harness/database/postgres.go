package database

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
)

// ErrNoPostgres says the PostgreSQL server binaries are not installed.
var ErrNoPostgres = errors.New("the PostgreSQL server binaries (postgres, initdb) are missing: apt-get install -y postgresql-15")

// account is the unprivileged user the server runs as when the harness is
// root: PostgreSQL refuses to run as root.
type account struct {
	name     string
	uid, gid uint32
}

// Start makes a new cluster in a temporary directory (initdb), starts its
// postmaster on a free loopback port and waits until it accepts
// connections. ctx bounds the start only: once Start has returned, the
// server runs until Stop. On error Start has removed whatever it made,
// and cancelling ctx during Start is such an error.
func Start(ctx context.Context, spec Spec) (*Server, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	bindir, err := Binaries()
	if err != nil {
		return nil, err
	}
	s := &Server{spec: spec, bindir: bindir, done: make(chan struct{})}
	s.stop = s.stopLocal
	if err := s.start(ctx); err != nil {
		_ = s.Stop(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	out, err := exec.Command(filepath.Join(s.bindir, "postgres"), "--version").Output()
	if err != nil {
		return fmt.Errorf("%s/postgres --version: %w", s.bindir, err)
	}
	s.version = strings.TrimSpace(string(out))
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"; Fresh's
	// CREATE DATABASE ... STRATEGY needs 15.
	if f := strings.Fields(s.version); len(f) < 3 || majorVersion(f[2]) < 15 {
		return fmt.Errorf("%s/postgres is %q; PostgreSQL 15 or later is needed: apt-get install -y postgresql-15", s.bindir, s.version)
	}
	if s.runAs, err = serverAccount(); err != nil {
		return err
	}
	if err := s.openLog(); err != nil {
		return err
	}
	if err := s.makeDataDir(); err != nil {
		return err
	}
	s.hook("datadir")
	if err := s.initdb(ctx); err != nil {
		return err
	}
	if s.port, err = runtimes.FreePort(); err != nil {
		return fmt.Errorf("find a free port: %w", err)
	}
	if err := s.startPostmaster(); err != nil {
		return err
	}
	s.hook("postmaster")
	return s.waitReady(ctx)
}

// Binaries finds the directory of the PostgreSQL server binaries: pg_config
// --bindir when it has them, else the highest /usr/lib/postgresql/*/bin
// (Debian's layout). The error wraps ErrNoPostgres when there is none.
func Binaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"postgres", "initdb"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	return "", ErrNoPostgres
}

// majorVersion is the major version of a "15.18" or "16beta1".
func majorVersion(v string) int {
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}

// serverAccount is who the server runs as: nil (this process's own user)
// unless this process is root, then the postgres system user, else nobody.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &account{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root, but neither a postgres nor a nobody user exists to run PostgreSQL as (it refuses root)")
}

// makeDataDir creates the cluster's directory, owned by the server's user,
// and checks that user can reach it.
func (s *Server) makeDataDir() error {
	dir, err := os.MkdirTemp("", "bench-pg-*")
	if err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	s.dataDir = dir
	if s.runAs == nil {
		return nil
	}
	if err := os.Chown(dir, int(s.runAs.uid), int(s.runAs.gid)); err != nil {
		return fmt.Errorf("give the data directory to %s: %w", s.runAs.name, err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			st, _ := fi.Sys().(*syscall.Stat_t)
			if st == nil || !(st.Uid == s.runAs.uid && fi.Mode()&0o100 != 0 || st.Gid == s.runAs.gid && fi.Mode()&0o010 != 0) {
				return fmt.Errorf("the user %s cannot reach %s (%s is %v): set TMPDIR to a directory it can", s.runAs.name, dir, p, fi.Mode().Perm())
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// initdb makes the cluster: trust authentication (loopback only), the
// superuser bench, UTF-8, the C locale (the same sorting and the same
// plans on every machine, whatever locales it has generated), and no fsync
// of the new files, which are thrown away with the run anyway.
func (s *Server) initdb(ctx context.Context) error {
	argv := []string{filepath.Join(s.bindir, "initdb"), "-D", s.dataDir, "-A", "trust", "-U", User,
		"-E", "UTF8", "--locale=C", "--no-sync"}
	fmt.Fprintf(s.log, "== initdb: %s\n", strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dataDir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.runAs != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.runAs.uid, Gid: s.runAs.gid}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start initdb: %w", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	s.hook("initdb")
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	select {
	case err := <-waited:
		if err != nil {
			return fmt.Errorf("initdb: %w (%s)", err, s.logTail())
		}
		return nil
	case <-ctx.Done():
	}
	// initdb runs its bootstrap backend through a pipe, in its process group:
	// SIGTERM to the group ends both, and initdb reaps its child before it
	// exits (a SIGKILL would leave that child to init, as a zombie where init
	// does not reap).
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-waited
	}
	return fmt.Errorf("initdb: %w", ctx.Err())
}

// startPostmaster runs the postgres binary itself (not pg_ctl, which
// daemonizes it away from the harness) as a child process, through the
// local runtime's join script, so it and every backend it forks start in
// the server's cgroup and on its CPUs. As root, setpriv then drops to the
// server's user and sets the parent-death signal again, which the kernel
// clears on a change of user.
func (s *Server) startPostmaster() error {
	pin := runtimes.Pin("bench-db-"+s.spec.Name, runtimes.BudgetLimits(s.spec.CPUs, s.spec.Budget, s.spec.QuotaPeriod, s.spec.MemoryBytes))
	s.pin, s.pinning = pin, pin.Pinning
	var argv []string
	if s.runAs != nil {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			return fmt.Errorf("setpriv (util-linux) is needed to run postgres as %s: %w", s.runAs.name, err)
		}
		argv = []string{setpriv, fmt.Sprintf("--reuid=%d", s.runAs.uid), fmt.Sprintf("--regid=%d", s.runAs.gid),
			"--clear-groups", "--pdeathsig=KILL", "--"}
	}
	argv = append(argv, filepath.Join(s.bindir, "postgres"), "-D", s.dataDir)
	for _, c := range s.settings(s.dataDir) {
		argv = append(argv, "-c", c)
	}
	fmt.Fprintf(s.log, "== postgres (%s, %s): %s\n", s.version, s.pinning, strings.Join(argv, " "))
	cmd := pin.Command(argv, os.Environ())
	cmd.Dir = s.dataDir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.pid = cmd.Process.Pid
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	s.usage = pin.Usage(s.pid)
	return nil
}

// stopLocal sends SIGINT to the postmaster (a fast shutdown: sessions are
// ended, a checkpoint is written, every backend has exited before the
// postmaster does), SIGKILL to its process tree after stopTimeout or when
// ctx ends, then removes the cgroup (which kills anything left in it) and
// the data directory. Backends killed with their postmaster are
// re-parented to init, and stay zombies where init does not reap: hence
// the SIGINT first.
func (s *Server) stopLocal(ctx context.Context) error {
	var errs []error
	if pid := s.pid; pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGINT)
		timer := time.NewTimer(stopTimeout)
		select {
		case <-s.done:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		select {
		case <-s.done:
			// A fast shutdown waits for every backend before the postmaster
			// exits: nothing is left to kill.
		default:
			// Every child of the postmaster leads a process group (and a
			// session) of its own, so a signal to the postmaster's group
			// would miss them: the tree is killed process by process, the
			// postmaster first so that it starts no more. The cgroup's
			// removal below catches any that escaped the listing.
			tree, _ := sample.Tree(int32(pid))()
			for _, p := range tree {
				_ = syscall.Kill(int(p), syscall.SIGKILL)
			}
			<-s.done
			errs = append(errs, fmt.Errorf("postgres did not shut down within %s; killed", stopTimeout))
		}
	}
	if s.pin != nil {
		if err := s.pin.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.dataDir != "" {
		if err := os.RemoveAll(s.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("remove the data directory: %w", err))
		}
	}
	return errors.Join(errs...)
}
