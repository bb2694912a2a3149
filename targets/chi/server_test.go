package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The examples of targets/README.md. The full contract (all 10,000 users)
// is checked by `harness verify` against a running server.
func TestContractExamples(t *testing.T) {
	srv := httptest.NewServer(router(newStore()))
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
