package database

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchharness/harness/harness/contract"
)

const seedSQL = "../../scenarios/db.sql"

// requirePostgres skips a test on a machine without PostgreSQL, but fails
// it under CI, whose .ci/run installs postgresql-15: the database tests
// must not pass by not running.
func requirePostgres(t *testing.T) {
	t.Helper()
	if _, err := Binaries(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have PostgreSQL (.ci/run installs postgresql-15): %v", err)
		}
		t.Skipf("no PostgreSQL server here (%v); the database tests need apt-get install -y postgresql-15", err)
	}
}

// TestServer starts one server, seeds it once (the seed dominates the
// test's time) and checks the contract's queries against it, the reset
// between targets, and that Stop leaves nothing behind.
func TestServer(t *testing.T) {
	requirePostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	logPath := filepath.Join(t.TempDir(), "postgres.log")
	start := time.Now()
	s, err := Start(ctx, Spec{Name: fmt.Sprintf("test-%d", os.Getpid()), LogPath: logPath, Budget: 1.5})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	t.Logf("started %s in %s: port %d, %s", s.Version(), time.Since(start).Round(time.Millisecond), s.Port(), s.Pinning())

	start = time.Now()
	if err := s.Seed(ctx, seedSQL); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	t.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))

	dsn := fresh(t, ctx, s, "t1")
	if want := fmt.Sprintf("postgres://bench@127.0.0.1:%d/t1?sslmode=disable", s.Port()); dsn != want {
		t.Errorf("DSN %q, want %q", dsn, want)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	t.Run("settings", func(t *testing.T) { checkSettings(t, ctx, conn) })

	t.Run("users", func(t *testing.T) {
		for _, id := range []int{1, 7, 10000} {
			got := queryUser(t, ctx, conn, id)
			want := contract.NewUser(id)
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
			for i := 0; i < gv.NumField(); i++ {
				if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
					t.Errorf("user %d: %s = %#v, want %#v", id, gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
				}
			}
			if b, _ := json.Marshal(got); !bytes.Equal(b, contract.UserJSON(id)) {
				t.Errorf("user %d encodes as %s, want %s", id, b, contract.UserJSON(id))
			}
		}
	})

	t.Run("orders", func(t *testing.T) {
		for _, id := range []int{1, 7, 10000} {
			for _, limit := range []int{1, 10, 100} {
				got := queryOrders(t, ctx, conn, id, limit)
				if len(got.Orders) != limit {
					t.Errorf("user %d limit %d: %d orders", id, limit, len(got.Orders))
				}
				b, err := json.Marshal(got)
				if err != nil {
					t.Fatal(err)
				}
				if want := contract.SeedUserOrdersJSON(id, limit); !bytes.Equal(b, want) {
					t.Errorf("user %d limit %d:\n got %s\nwant %s", id, limit, b, want)
				}
			}
		}
	})

	t.Run("insert, then Fresh resets", func(t *testing.T) {
		skus, qtys, prices := []string{"SKU-3003", "SKU-4004"}, []int32{1, 3}, []int32{273, 1273}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var orderID int64
		if err := tx.QueryRow(ctx, contract.SQLInsertOrder, 7).Scan(&orderID); err != nil {
			t.Fatalf("Q3: %v", err)
		}
		if _, err := tx.Exec(ctx, contract.SQLInsertLines, orderID, skus, qtys, prices); err != nil {
			t.Fatalf("Q4: %v", err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if orderID <= contract.SeedOrders {
			t.Errorf("new order id %d, want above the seed's %d", orderID, contract.SeedOrders)
		}
		latest := queryOrders(t, ctx, conn, 7, 2)
		want := contract.OrderSummary{ID: orderID, Status: "placed", Lines: 2, SubtotalCents: 1*273 + 3*1273}
		if first := latest.Orders[0]; first.ID != want.ID || first.Status != want.Status || first.Lines != want.Lines || first.SubtotalCents != want.SubtotalCents {
			t.Errorf("Q2's first order after the insert: %+v, want %+v", first, want)
		}
		if created, err := time.Parse(time.RFC3339, latest.Orders[0].CreatedAt); err != nil || time.Since(created) > time.Hour || time.Since(created) < -time.Hour {
			t.Errorf("new order's created_at %q is not about now (%v)", latest.Orders[0].CreatedAt, err)
		}
		if latest.Orders[1] != contract.SeedUserOrders(7, 1).Orders[0] {
			t.Errorf("Q2's second order %+v, want the seed's latest %+v", latest.Orders[1], contract.SeedUserOrders(7, 1).Orders[0])
		}

		dsn := fresh(t, ctx, s, "t1")
		if err := conn.Ping(ctx); err == nil {
			t.Error("a session on t1 survived Fresh(t1)")
		}
		conn2, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn2.Close(ctx)
		var n int
		if err := conn2.QueryRow(ctx, `SELECT count(*) FROM orders WHERE id = $1`, orderID).Scan(&n); err != nil || n != 0 {
			t.Errorf("order %d after Fresh: count %d, err %v; want it gone", orderID, n, err)
		}
		if b, _ := json.Marshal(queryOrders(t, ctx, conn2, 7, 1)); !bytes.Equal(b, contract.SeedUserOrdersJSON(7, 1)) {
			t.Errorf("user 7 after Fresh: %s, want the seed's %s", b, contract.SeedUserOrdersJSON(7, 1))
		}
	})

	t.Run("usage", func(t *testing.T) {
		if _, err := s.Usage().Read(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := s.Usage().Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// shared_buffers alone is 256 MB, touched by the seed and the queries.
		if r.RSSBytes < 64<<20 {
			t.Errorf("RSS of the server's processes %d bytes: too little for a running PostgreSQL", r.RSSBytes)
		}
	})

	t.Run("Stop leaves nothing", func(t *testing.T) {
		conn.Close(ctx)
		left := snapshot(t, s)
		// The postmaster, checkpointer, background writer, WAL writer...
		if len(left.pids) < 4 {
			t.Fatalf("only %d processes of the server before Stop: %v", len(left.pids), left.pids)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
		select {
		case <-s.Done():
		default:
			t.Fatal("Done is not closed after Stop")
		}
		if s.Err() != nil {
			t.Errorf("the postmaster exited with %v after a fast shutdown; want 0", s.Err())
		}
		left.assertGone(t)
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

// TestStartCancelled cancels Start's ctx at each stage: Start must fail
// with the context's error and leave no process, data directory or cgroup.
func TestStartCancelled(t *testing.T) {
	requirePostgres(t)
	t.Cleanup(func() { testHook = nil })
	for _, stage := range []string{"before", "datadir", "initdb", "postmaster"} {
		t.Run(stage, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if stage == "before" {
				cancel()
			}
			var seen *Server
			var at *state
			testHook = func(st string, s *Server) {
				seen = s
				if st == stage {
					at = snapshot(t, s)
					cancel()
				}
			}
			s, err := Start(ctx, Spec{Name: fmt.Sprintf("cancel-%d-%s", os.Getpid(), stage), LogPath: filepath.Join(t.TempDir(), "pg.log")})
			testHook = nil
			if err == nil {
				_ = s.Stop(context.Background())
				t.Fatal("Start succeeded with its context cancelled")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Start: %v, want context.Canceled", err)
			}
			if stage == "before" {
				if seen != nil {
					t.Error("Start made a data directory with its context already cancelled")
				}
				return
			}
			if at == nil {
				t.Fatalf("stage %s never reached", stage)
			}
			if stage == "postmaster" && len(at.pids) == 0 {
				t.Error("no postmaster process seen at stage postmaster")
			}
			at.assertGone(t)
		})
	}
}

// checkSettings asks the server for the tuning Start gave it.
func checkSettings(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	want := map[string]string{"fsync": "on", "full_page_writes": "on", "synchronous_commit": "off", "shared_buffers": "256MB",
		"max_connections": "200", "checkpoint_timeout": "30min", "max_wal_size": "4GB", "jit": "off", "autovacuum": "off",
		"huge_pages": "off", "listen_addresses": "127.0.0.1", "server_encoding": "UTF8", "lc_collate": "C"}
	for name, v := range want {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatalf("current_setting(%s): %v", name, err)
		}
		if got != v {
			t.Errorf("%s = %s, want %s", name, got, v)
		}
	}
}

func fresh(t *testing.T, ctx context.Context, s *Server, name string) string {
	t.Helper()
	start := time.Now()
	dsn, err := s.Fresh(ctx, name)
	if err != nil {
		t.Fatalf("Fresh(%s): %v", name, err)
	}
	t.Logf("Fresh(%s) took %s", name, time.Since(start).Round(time.Millisecond))
	return dsn
}

func queryUser(t *testing.T, ctx context.Context, conn *pgx.Conn, id int) contract.User {
	t.Helper()
	var u contract.User
	a := &u.Address
	err := conn.QueryRow(ctx, contract.SQLUser, id).Scan(&u.ID, &u.Name, &u.Email, &u.Active, &u.CreatedAt, &u.Tags,
		&a.Street, &a.City, &a.Postcode, &a.Country, &u.Bio)
	if err != nil {
		t.Fatalf("Q1 for user %d: %v", id, err)
	}
	return u
}

func queryOrders(t *testing.T, ctx context.Context, conn *pgx.Conn, id, limit int) contract.UserOrders {
	t.Helper()
	rows, err := conn.Query(ctx, contract.SQLUserOrders, id, limit)
	if err != nil {
		t.Fatalf("Q2 for user %d: %v", id, err)
	}
	out := contract.UserOrders{UserID: id, Orders: []contract.OrderSummary{}}
	for rows.Next() {
		var o contract.OrderSummary
		if err := rows.Scan(&o.ID, &o.CreatedAt, &o.Status, &o.Lines, &o.SubtotalCents); err != nil {
			t.Fatalf("Q2 row: %v", err)
		}
		out.Orders = append(out.Orders, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("Q2 for user %d: %v", id, err)
	}
	return out
}

// state is what a server had made at one moment: its processes (with their start times, so a reused PID is
// not mistaken for a survivor), its data directory and its cgroup.
type state struct {
	dataDir   string
	pids      map[int]string // pid -> start time (field 22 of /proc/pid/stat)
	cgroupDir []string
}

func snapshot(t *testing.T, s *Server) *state {
	t.Helper()
	st := &state{dataDir: s.dataDir, pids: map[int]string{}}
	if s.pin != nil && s.pin.Group != nil {
		for _, f := range s.pin.Group.JoinFiles() {
			st.cgroupDir = append(st.cgroupDir, filepath.Dir(f))
		}
	}
	// The postmaster and its descendants (each backend is a process group
	// of its own), and whatever the cgroup holds.
	procs := procStats()
	if root := s.PID(); root != 0 {
		tree := []int{root}
		for i := 0; i < len(tree); i++ {
			if p, ok := procs[tree[i]]; ok {
				st.pids[tree[i]] = p.start
			}
			for pid, p := range procs {
				if p.ppid == tree[i] {
					tree = append(tree, pid)
				}
			}
		}
	}
	if s.pin != nil && s.pin.Group != nil {
		pids, err := s.pin.Group.PIDs()
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range pids {
			if p, ok := procs[int(pid)]; ok {
				st.pids[int(pid)] = p.start
			}
		}
	}
	return st
}

func (st *state) assertGone(t *testing.T) {
	t.Helper()
	now := procStats()
	for pid, start := range st.pids {
		if p, ok := now[pid]; ok && p.start == start {
			t.Errorf("process %d of the server is still there (state %s)", pid, p.state)
		}
	}
	if st.dataDir == "" {
		t.Error("no data directory was recorded")
	} else {
		if _, err := os.Stat(st.dataDir); !os.IsNotExist(err) {
			t.Errorf("data directory %s still exists (%v)", st.dataDir, err)
		}
		// Any process naming the data directory (initdb's and its bootstrap
		// backend's PGDATA, the postmaster's -D) would have outlived it.
		for pid := range now {
			for _, f := range []string{"cmdline", "environ"} {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
				if bytes.Contains(b, []byte(st.dataDir)) {
					t.Errorf("process %d still names %s in its %s", pid, st.dataDir, f)
				}
			}
		}
	}
	for _, dir := range st.cgroupDir {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still exists (%v)", dir, err)
		}
	}
}

type procStat struct {
	ppid         int
	state, start string
}

// procStats reads every process's parent, state and start time.
func procStats() map[int]procStat {
	out := map[int]procStat{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 20 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		out[pid] = procStat{ppid: ppid, state: f[0], start: f[19]}
	}
	return out
}
