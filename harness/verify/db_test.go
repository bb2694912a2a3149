package verify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/benchharness/harness/harness/contract"
)

// fakeDB plays a target with a database: the seed's answers from the
// contract's formulas, and placed orders kept in memory, newest first.
// breakID makes it answer a placed order with an id inside the seed's.
func fakeDB(breakID bool) http.Handler {
	ref := contract.Handler()
	var mu sync.Mutex
	placed := map[int][]contract.OrderSummary{}
	next := int64(contract.SeedOrders)
	write := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /db/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/users/" + r.PathValue("id")
		ref.ServeHTTP(w, r2)
	})
	mux.HandleFunc("GET /db/users/{id}/orders", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id < 1 || id > contract.UserCount {
			write(w, 404, map[string]string{"error": "not found"})
			return
		}
		limit, err := contract.ParseOrdersLimit(r.URL.Query())
		if err != nil {
			write(w, 422, map[string]string{"error": "validation failed", "field": "limit"})
			return
		}
		mu.Lock()
		orders := append(append([]contract.OrderSummary{}, placed[id]...), contract.SeedUserOrders(id, limit).Orders...)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(contract.UserOrders{UserID: id, Orders: orders[:min(limit, len(orders))]})
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /db/orders", func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/orders/quote"
		ref.ServeHTTP(rec, r2)
		if rec.Code != 200 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		var q contract.Quote
		_ = json.Unmarshal(rec.Body.Bytes(), &q)
		mu.Lock()
		next++
		id := next
		if breakID {
			id = 42
		}
		placed[q.CustomerID] = append([]contract.OrderSummary{{ID: id, Status: "placed", Lines: len(q.Lines), SubtotalCents: int64(q.SubtotalCents)}}, placed[q.CustomerID]...)
		mu.Unlock()
		write(w, 200, contract.PlacedOrder{OrderID: id, Quote: q})
	})
	mux.Handle("/", ref)
	return mux
}

func TestDatabaseChecks(t *testing.T) {
	rep := TargetWith(context.Background(), serve(t, fakeDB(false)), Options{Database: true})
	if !rep.OK() {
		t.Fatalf("a correct database target was rejected: %s", rep.Problems())
	}
	names := ""
	for _, c := range rep.Checks {
		names += c.Name + "\n"
	}
	for _, want := range []string{"db orders of user 7, limit 10", "db place order", "db placed order is the customer's latest"} {
		if !strings.Contains(names, want) {
			t.Errorf("no check %q among:\n%s", want, names)
		}
	}
	if plain := Target(context.Background(), serve(t, contract.Handler())); !plain.OK() || strings.Contains(plain.Problems(), "db ") {
		t.Errorf("without a database the /db/ routes must not be checked: %s", plain.Problems())
	}
	if bad := TargetWith(context.Background(), serve(t, fakeDB(true)), Options{Database: true}); bad.OK() || !strings.Contains(bad.Problems(), "want one above the seed's") {
		t.Errorf("an order id inside the seed's passed: %s", bad.Problems())
	}
	// A listing that ignores the limit.
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/orders") && r.Method == "GET" {
			q := r.URL.Query()
			q.Set("limit", "100")
			r.URL.RawQuery = q.Encode()
		}
		fakeDB(false).ServeHTTP(w, r)
	})
	if bad := TargetWith(context.Background(), serve(t, broken), Options{Database: true}); bad.OK() || !strings.Contains(bad.Problems(), "limit 1") {
		t.Errorf("a listing that ignores limit passed: %s", bad.Problems())
	}
}
