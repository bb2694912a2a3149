package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// The examples of targets/README.md. The full contract (all 10,000 users)
// is checked by `harness verify` against a running server.
func TestContractExamples(t *testing.T) {
	srv := httptest.NewServer(router(newStore(), newGCWindow(nil), database{}))
	defer srv.Close()

	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/json", "", 200, `{"message":"Hello, World!"}`},
		{"GET", "/users/1", "", 200, `{"id":1,"name":"Bruno Anders","email":"bruno.anders1@example.com","active":true,"created_at":"2024-01-01T01:00:07Z","tags":["beta","billing"],"address":{"street":"101 Oak Ave","city":"Berlin","postcode":"07919","country":"DE"},"bio":"Member #1 since 2024. Writes about distributed systems, reliable APIs and the occasional benchmark."}`},
		{"GET", "/users/10000", "", 200, `{"id":10000,"name":"Alice Brooks","email":"alice.brooks10000@example.com","active":true,"created_at":"2025-02-21T11:26:40Z","tags":["admin","apac"],"address":{"street":"200 Main St","city":"Lisbon","postcode":"90000","country":"PT"},"bio":"Member #10000 since 2025. Writes about distributed systems, reliable APIs and the occasional benchmark."}`},
		{"GET", "/users/0", "", 404, `{"error":"not found"}`},
		{"GET", "/users/10001", "", 404, `{"error":"not found"}`},
		{"GET", "/users/abc", "", 404, `{"error":"not found"}`},
		{"GET", "/users/-1", "", 404, `{"error":"not found"}`},
		{"GET", "/users/+1", "", 404, `{"error":"not found"}`},
		{"GET", "/users/99999999999999999999999", "", 404, `{"error":"not found"}`},
		{"GET", "/nope", "", 404, `{"error":"not found"}`},
		{"POST", "/orders/quote", `{"customer_id":1002,"items":[{"sku":"SKU-3003","qty":1,"unit_price_cents":273},{"sku":"SKU-4004","qty":3,"unit_price_cents":1273}]}`, 200,
			`{"customer_id":1002,"currency":"USD","lines":[{"sku":"SKU-3003","qty":1,"line_total_cents":273},{"sku":"SKU-4004","qty":3,"line_total_cents":3819}],"item_count":4,"subtotal_cents":4092,"tax_cents":338,"total_cents":4430}`},
		{"POST", "/orders/quote", `{"customer_id":"x","items":[]}`, 422, `{"error":"validation failed","field":"customer_id"}`},
		{"POST", "/orders/quote", `{"customer_id":7}`, 422, `{"error":"validation failed","field":"items"}`},
		{"POST", "/orders/quote", `{"customer_id":7,"items":[{"sku":"A","qty":1,"unit_price_cents":1},{"sku":"B","qty":0,"unit_price_cents":1}]}`, 422, `{"error":"validation failed","field":"items[1].qty"}`},
		{"POST", "/orders/quote", `[1]`, 422, `{"error":"validation failed","field":"body"}`},
		{"POST", "/orders/quote", `{"customer_id":`, 400, `{"error":"invalid json"}`},
		{"POST", "/orders/quote", `{} x`, 400, `{"error":"invalid json"}`},
		{"POST", "/orders/quote", ``, 400, `{"error":"invalid json"}`},
		// Compute kernel: the 200 bodies are `bin/harness contract compute S R K`
		// (harness/contract/compute.go) for the same parameters.
		// %2B is a literal "+" (a bare "+" in a query decodes to a space).
		{"GET", "/compute/rank?top=3", "", 200, `{"seed":0,"rounds":64,"matched":8572,"checksum":1938938613,"top":[{"id":6669,"score":4294378245},{"id":9616,"score":4294228778},{"id":751,"score":4293558100}]}`},
		{"GET", "/compute/rank?seed=4294967295&rounds=1000&top=5", "", 200, `{"seed":4294967295,"rounds":1000,"matched":8572,"checksum":1102310794,"top":[{"id":7331,"score":4294494319},{"id":7348,"score":4294162614},{"id":4497,"score":4293492108},{"id":9409,"score":4292903480},{"id":9059,"score":4291191990}]}`},
		{"GET", "/compute/rank?seed=12345&rounds=1&top=1", "", 200, `{"seed":12345,"rounds":1,"matched":8572,"checksum":753785350,"top":[{"id":437,"score":4294186868}]}`},
		{"GET", "/compute/rank?seed=&rounds=0", "", 422, `{"error":"validation failed","field":"seed"}`},
		{"GET", "/compute/rank?seed=4294967296", "", 422, `{"error":"validation failed","field":"seed"}`},
		{"GET", "/compute/rank?rounds=%2B5&top=0", "", 422, `{"error":"validation failed","field":"rounds"}`},
		{"GET", "/compute/rank?rounds=1001", "", 422, `{"error":"validation failed","field":"rounds"}`},
		{"GET", "/compute/rank?top=abc", "", 422, `{"error":"validation failed","field":"top"}`},
		// GC churn: the 200 bodies are `bin/harness contract churn S N`
		// (harness/contract/gc.go); 999999 wraps both the key and the score.
		{"GET", "/gc/churn?seed=5&n=2", "", 200, `{"seed":5,"n":2,"items":[{"id":0,"key":"k5","score":5,"tags":["t0","u0"]},{"id":1,"key":"k6","score":12,"tags":["t1","u1"]}]}`},
		{"GET", "/gc/churn?n=8&seed=999999", "", 200, `{"seed":999999,"n":8,"items":[{"id":0,"key":"k999999","score":999,"tags":["t0","u0"]},{"id":1,"key":"k1000000","score":6,"tags":["t1","u1"]},{"id":2,"key":"k1000001","score":13,"tags":["t2","u2"]},{"id":3,"key":"k1000002","score":20,"tags":["t3","u3"]},{"id":4,"key":"k0","score":27,"tags":["t4","u4"]},{"id":5,"key":"k1","score":34,"tags":["t0","u5"]},{"id":6,"key":"k2","score":41,"tags":["t1","u6"]},{"id":7,"key":"k3","score":48,"tags":["t2","u0"]}]}`},
		{"GET", "/gc/churn?seed=4294967295&n=3", "", 200, `{"seed":4294967295,"n":3,"items":[{"id":0,"key":"k954413","score":295,"tags":["t0","u0"]},{"id":1,"key":"k954414","score":302,"tags":["t1","u1"]},{"id":2,"key":"k954415","score":309,"tags":["t2","u2"]}]}`},
		{"GET", "/gc/churn?seed=x&n=0", "", 422, `{"error":"validation failed","field":"seed"}`},
		{"GET", "/gc/churn?seed=4294967296", "", 422, `{"error":"validation failed","field":"seed"}`},
		{"GET", "/gc/churn?n=0", "", 422, `{"error":"validation failed","field":"n"}`},
		{"GET", "/gc/churn?n=10001", "", 422, `{"error":"validation failed","field":"n"}`},
		{"GET", "/gc/churn?n=%2B5", "", 422, `{"error":"validation failed","field":"n"}`},
		{"GET", "/gc/churn?n=", "", 422, `{"error":"validation failed","field":"n"}`},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || string(got) != c.want {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, resp.StatusCode, got, c.status, c.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
	}
}

// GET /gc/stats has no fixed bytes: its shape, the window and POST /gc/reset.
func TestGCStats(t *testing.T) {
	srv := httptest.NewServer(router(newStore(), newGCWindow(newLiveHeap(1000)), database{}))
	defer srv.Close()

	stats := func() map[string]any {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/gc/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /gc/stats: %d, %v", resp.StatusCode, err)
		}
		if s["runtime"] != "go" || s["live_objects"] != 1000.0 || len(s) != 9 {
			t.Errorf("GET /gc/stats: %v", s)
		}
		// The BEAM's per-process figures are not Go's.
		if s["largest_process_gc_ms"] != nil || s["long_gcs"] != nil {
			t.Errorf("GET /gc/stats: BEAM fields not null: %v", s)
		}
		return s
	}

	resp, err := srv.Client().Post(srv.URL+"/gc/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("POST /gc/reset: %d %q, want 204 and no body", resp.StatusCode, body)
	}
	// Nothing forces a collection between the reset and this read, but a
	// background one may still finish: only the shape is certain.
	if s := stats(); s["pauses"] == 0.0 && s["pause_p50_ms"] != nil {
		t.Errorf("no pauses but percentiles: %v", s)
	}

	runtime.GC()
	s := stats()
	if c, _ := s["collections"].(float64); c < 1 {
		t.Errorf("after runtime.GC: collections %v, want >= 1", s["collections"])
	}
	p, _ := s["pauses"].(float64)
	p50, _ := s["pause_p50_ms"].(float64)
	p99, _ := s["pause_p99_ms"].(float64)
	mx, _ := s["pause_max_ms"].(float64)
	if p < 2 || p50 <= 0 || p50 > p99 || p99 > mx {
		t.Errorf("after runtime.GC (two stop-the-world pauses): %v", s)
	}
}

// Without DATABASE_URL the /db/ routes answer 503 to a valid request; the
// checks that need no database (id, limit, the quote's body) come first and
// answer as they would with one. The answers from a database are checked
// against a seeded PostgreSQL (README.md, "Database endpoints").
func TestDBWithoutDatabase(t *testing.T) {
	srv := httptest.NewServer(router(newStore(), newGCWindow(nil), database{}))
	defer srv.Close()

	const noDB, notFound = `{"error":"no database"}`, `{"error":"not found"}`
	const badLimit = `{"error":"validation failed","field":"limit"}`
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/db/users/7", "", 503, noDB},
		{"GET", "/db/users/10000", "", 503, noDB},
		{"GET", "/db/users/0", "", 404, notFound},
		{"GET", "/db/users/10001", "", 404, notFound},
		{"GET", "/db/users/%2B7", "", 404, notFound},
		{"GET", "/db/users/abc", "", 404, notFound},
		{"GET", "/db/users/7/orders", "", 503, noDB},
		{"GET", "/db/users/7/orders?limit=1", "", 503, noDB},
		{"GET", "/db/users/7/orders?limit=100", "", 503, noDB},
		{"GET", "/db/users/7/orders?limit=007", "", 503, noDB},
		{"GET", "/db/users/7/orders?limit=0", "", 422, badLimit},
		{"GET", "/db/users/7/orders?limit=101", "", 422, badLimit},
		{"GET", "/db/users/7/orders?limit=", "", 422, badLimit},
		{"GET", "/db/users/7/orders?limit=%2B5", "", 422, badLimit},
		{"GET", "/db/users/7/orders?limit=-1", "", 422, badLimit},
		{"GET", "/db/users/7/orders?limit=x&limit=5", "", 422, badLimit},
		{"GET", "/db/users/0/orders?limit=0", "", 404, notFound},
		{"GET", "/db/users/x/orders", "", 404, notFound},
		{"POST", "/db/orders", `{"customer_id":1002,"items":[{"sku":"SKU-3003","qty":1,"unit_price_cents":273}]}`, 503, noDB},
		{"POST", "/db/orders", `{"customer_id":0,"items":[]}`, 422, `{"error":"validation failed","field":"customer_id"}`},
		{"POST", "/db/orders", `{"customer_id":7,"items":[{"sku":"","qty":1,"unit_price_cents":1}]}`, 422, `{"error":"validation failed","field":"items[0].sku"}`},
		{"POST", "/db/orders", `{"customer_id":`, 400, `{"error":"invalid json"}`},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || string(got) != c.want {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, resp.StatusCode, got, c.status, c.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
	}
}
