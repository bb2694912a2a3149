package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"

	"github.com/benchharness/harness/harness/contract"
)

// dbCases check the database endpoints against the seed's formulas; they
// hold only on a freshly seeded database, before any order is placed.
func dbCases() []expect {
	notFound := map[string]any{"error": "not found"}
	c := []expect{
		{name: "db user 1", method: "GET", path: "/db/users/1", status: 200, exact: contract.UserJSON(1)},
		{name: "db user 10000", method: "GET", path: "/db/users/10000", status: 200, exact: contract.UserJSON(contract.UserCount)},
		{name: "db unknown user 0", method: "GET", path: "/db/users/0", status: 404, value: notFound},
		{name: "db unknown user abc", method: "GET", path: "/db/users/abc", status: 404, value: notFound},
		{name: "db orders of unknown user", method: "GET", path: "/db/users/10001/orders", status: 404, value: notFound},
		{name: "db orders default limit", method: "GET", path: "/db/users/1/orders", status: 200, exact: contract.SeedUserOrdersJSON(1, contract.OrdersDefaultLimit)},
	}
	for _, q := range []struct{ user, limit int }{{7, 1}, {7, 10}, {10000, 100}, {4242, 3}} {
		c = append(c, expect{name: fmt.Sprintf("db orders of user %d, limit %d", q.user, q.limit), method: "GET",
			path: fmt.Sprintf("/db/users/%d/orders?limit=%d", q.user, q.limit), status: 200, exact: contract.SeedUserOrdersJSON(q.user, q.limit)})
	}
	for _, bad := range []string{"0", "101", "x", "%2B5"} {
		c = append(c, expect{name: "invalid db orders limit " + bad, method: "GET", path: "/db/users/7/orders?limit=" + bad, status: 422, field: "limit"})
	}
	return append(c,
		expect{name: "invalid db order (items[1].qty)", method: "POST", path: "/db/orders",
			body: `{"customer_id":7,"items":[{"sku":"A","qty":1,"unit_price_cents":100},{"sku":"B","qty":0,"unit_price_cents":100}]}`, status: 422, field: "items[1].qty"},
		expect{name: "malformed db order", method: "POST", path: "/db/orders", body: `{"customer_id":`, status: 400, value: map[string]any{"error": "invalid json"}},
	)
}

// placeOrder posts the first sample order and checks that the answer is
// its quote with a new id past the seed's, and that the customer's latest
// order is now that one.
func placeOrder(ctx context.Context, client *http.Client, base string) []Check {
	body := contract.SampleOrders()[0]
	var req contract.QuoteRequest
	if err := json.Unmarshal(body, &req); err != nil {
		panic(fmt.Sprintf("sample order: %v", err)) // the contract's own sample
	}
	placed := Check{Name: "db place order"}
	resp, got, err := fetch(ctx, client, "POST", base, "/db/orders", body)
	var p contract.PlacedOrder
	switch {
	case err != nil:
		placed.Problem = err.Error()
	case resp.StatusCode != http.StatusOK:
		placed.Problem = fmt.Sprintf("POST /db/orders: status %d, want 200 (body %s)", resp.StatusCode, clip(got))
	case json.Unmarshal(got, &p) != nil:
		placed.Problem = fmt.Sprintf("POST /db/orders: body is not JSON: %s", clip(got))
	case p.OrderID <= contract.SeedOrders:
		placed.Problem = fmt.Sprintf("POST /db/orders: order_id %d, want one above the seed's %d", p.OrderID, contract.SeedOrders)
	case !reflect.DeepEqual(roundTrip(p.Quote), roundTrip(contract.ComputeQuote(req))):
		want, _ := json.Marshal(contract.ComputeQuote(req))
		placed.Problem = fmt.Sprintf("POST /db/orders: quote %s, want %s", clip(got), clip(want))
	default:
		placed.OK = true
	}
	if !placed.OK {
		return []Check{placed}
	}
	latest := Check{Name: "db placed order is the customer's latest"}
	path := fmt.Sprintf("/db/users/%d/orders?limit=1", req.CustomerID)
	resp, got, err = fetch(ctx, client, "GET", base, path, nil)
	var orders contract.UserOrders
	switch {
	case err != nil:
		latest.Problem = err.Error()
	case resp.StatusCode != http.StatusOK || json.Unmarshal(got, &orders) != nil || len(orders.Orders) != 1:
		latest.Problem = fmt.Sprintf("GET %s: status %d, body %s", path, resp.StatusCode, clip(got))
	case orders.Orders[0].ID != p.OrderID || orders.Orders[0].Lines != len(req.Items) || orders.Orders[0].SubtotalCents != int64(contract.ComputeQuote(req).SubtotalCents):
		latest.Problem = fmt.Sprintf("GET %s: latest order %+v, want order %d with %d lines and subtotal %d", path, orders.Orders[0], p.OrderID, len(req.Items), contract.ComputeQuote(req).SubtotalCents)
	default:
		latest.OK = true
	}
	return []Check{placed, latest}
}

// fetch sends one request (a JSON body when body is not nil) and reads
// the answer, at most 1 MiB of it.
func fetch(ctx context.Context, client *http.Client, method, base, path string, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("read body: %w", err)
	}
	return resp, got, nil
}
