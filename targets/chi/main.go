// Command server is the go-chi reference target: the contract of
// targets/README.md on net/http with a chi router.
//
// Environment: PORT (required), HOST (default 127.0.0.1), VCPUS (GOMAXPROCS;
// unset leaves the Go runtime's default), GC_LIVE_OBJECTS (records of the
// live heap; unset or 0: none), DATABASE_URL and DB_POOL (the database
// endpoints' PostgreSQL and pool size; without DATABASE_URL they answer 503).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
)

// maxBodyBytes bounds a quote request; the largest valid order is about 15 KB.
const maxBodyBytes = 1 << 20

type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// writeJSON serialises v for this request. json.Marshal rather than an
// Encoder: the Encoder appends a newline, and the user bytes must match the
// contract exactly.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// readOrder reads and validates a quote body (POST /orders/quote and POST
// /db/orders answer the same 400, 413 and 422). On failure it has already
// answered and returns false.
func readOrder(w http.ResponseWriter, r *http.Request) (order, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return order{}, false
		}
		writeError(w, http.StatusBadRequest, "invalid json")
		return order{}, false
	}
	// json.Unmarshal, not a Decoder: it rejects trailing bytes after the
	// value, which a Decoder would leave unread.
	var body any
	if err := json.Unmarshal(b, &body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid json")
		return order{}, false
	}
	o, field := parseOrder(body)
	if field != "" {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "validation failed", Field: field})
		return order{}, false
	}
	return o, true
}

func router(users store, gc *gcWindow, db database) http.Handler {
	r := chi.NewRouter()
	// No middleware: no request logger, recoverer or request id, as in
	// TechEmpower's Go entries. net/http already recovers handler panics
	// per connection.
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})

	r.Get("/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			Status string `json:"status"`
		}{"ok"})
	})

	r.Get("/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			Message string `json:"message"`
		}{"Hello, World!"})
	})

	r.Get("/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		u, ok := users.lookup(chi.URLParam(r, "id"))
		if !ok {
			writeError(w, http.StatusNotFound, "not found")
			return
		}
		writeJSON(w, http.StatusOK, u)
	})

	r.Post("/orders/quote", func(w http.ResponseWriter, r *http.Request) {
		o, ok := readOrder(w, r)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, price(o))
	})

	r.Get("/compute/rank", func(w http.ResponseWriter, r *http.Request) {
		p, field := parseComputeParams(r.URL.Query())
		if field != "" {
			writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "validation failed", Field: field})
			return
		}
		writeJSON(w, http.StatusOK, users.rank(p))
	})

	r.Get("/gc/churn", func(w http.ResponseWriter, r *http.Request) {
		p, field := parseChurnParams(r.URL.Query())
		if field != "" {
			writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "validation failed", Field: field})
			return
		}
		writeJSON(w, http.StatusOK, churn(p))
	})

	r.Get("/gc/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, gc.stats())
	})

	r.Post("/gc/reset", func(w http.ResponseWriter, r *http.Request) {
		gc.reset()
		w.WriteHeader(http.StatusNoContent)
	})

	db.routes(r)
	return r
}

func main() {
	// The distroless image has no shell or curl, so a container healthcheck
	// runs the server binary itself in this mode.
	if len(os.Args) == 2 && os.Args[1] == "-healthcheck" {
		os.Exit(healthcheck())
	}
	if err := run(); err != nil {
		log.Fatalf("chi: %v", err)
	}
}

// healthcheck asks the running server for /health: exit 0 on a 200.
func healthcheck() int {
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, os.Getenv("PORT")) + "/health")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}

func run() error {
	port := os.Getenv("PORT")
	if port == "" {
		return errors.New("PORT is not set")
	}
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	if v := os.Getenv("VCPUS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("VCPUS=%q: want a whole number >= 1", v)
		}
		runtime.GOMAXPROCS(n)
	}
	live := 0
	if v := os.Getenv("GC_LIVE_OBJECTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("GC_LIVE_OBJECTS=%q: want a whole number >= 0", v)
		}
		live = n
	}
	var db database
	if url := os.Getenv("DATABASE_URL"); url != "" {
		// Required with a database: the harness gives every target the same
		// size, and a silent default would make the pools differ.
		v := os.Getenv("DB_POOL")
		size, err := strconv.Atoi(v)
		if err != nil || size < 1 {
			return fmt.Errorf("DB_POOL=%q: want a whole number >= 1", v)
		}
		// Before the listener opens: the first successful /health means
		// every connection is open and has its statements prepared.
		pool, err := openDB(url, size)
		if err != nil {
			return fmt.Errorf("database: %v", err)
		}
		defer pool.Close()
		db.pool = pool
	}

	// The store and the live heap are complete before the listener opens,
	// so the first successful /health means every user can be served and
	// the collector already lives with the whole heap.
	users := newStore()
	gc := newGCWindow(newLiveHeap(live))

	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           router(users, gc, db),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		// Longer than any pause between load steps, so keep-alive
		// connections survive them.
		IdleTimeout: 120 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
