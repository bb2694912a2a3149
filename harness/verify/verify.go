// Package verify checks a running target against the contract of
// targets/README.md before any load is sent: a server that answers wrongly
// would otherwise be measured doing less work than the others.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/contract"
)

// Check is one request and what came back.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Problem says what is wrong, in words a target author can act on.
	Problem string `json:"problem,omitempty"`
}

// Report is the outcome of verifying one target.
type Report struct {
	Checks []Check `json:"checks"`
}

// OK is true when every check passed.
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

// Problems lists the failed checks, one per line.
func (r Report) Problems() string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Problem)
		}
	}
	return strings.Join(out, "; ")
}

type expect struct {
	name   string
	method string
	path   string
	body   string
	status int
	// exact, when set, is compared byte for byte; otherwise value is
	// compared as a decoded JSON value.
	exact []byte
	value any
	// field, for a 422, is the field the error must name.
	field string
	// check, when set, judges the decoded body and says what is wrong.
	check func(body []byte) string
	// noBody: the answer has no body (204), so no Content-Type either.
	noBody bool
}

func cases() []expect {
	orders := contract.SampleOrders()
	var c []expect
	c = append(c,
		expect{name: "health", method: "GET", path: "/health", status: 200},
		expect{name: "json", method: "GET", path: "/json", status: 200, value: map[string]any{"message": "Hello, World!"}},
	)
	for _, id := range []int{1, 2, 7, 16, 4242, 9999, 10000} {
		c = append(c, expect{name: fmt.Sprintf("user %d", id), method: "GET", path: fmt.Sprintf("/users/%d", id), status: 200, exact: contract.UserJSON(id)})
	}
	for _, id := range []string{"0", "10001", "abc", "-1"} {
		c = append(c, expect{name: "unknown user " + id, method: "GET", path: "/users/" + id, status: 404, value: map[string]any{"error": "not found"}})
	}
	for i, o := range orders {
		var req contract.QuoteRequest
		_ = json.Unmarshal(o, &req)
		c = append(c, expect{name: fmt.Sprintf("quote %d", i+1), method: "POST", path: "/orders/quote", body: string(o), status: 200, value: roundTrip(contract.ComputeQuote(req))})
	}
	bad := []struct{ body, field string }{
		{`{"items":[{"sku":"A","qty":1,"unit_price_cents":100}]}`, "customer_id"},
		{`{"customer_id":"7","items":[{"sku":"A","qty":1,"unit_price_cents":100}]}`, "customer_id"},
		{`{"customer_id":7}`, "items"},
		{`{"customer_id":7,"items":[]}`, "items"},
		{`{"customer_id":7,"items":[5]}`, "items[0]"},
		{`{"customer_id":7,"items":[{"sku":"","qty":1,"unit_price_cents":100}]}`, "items[0].sku"},
		{`{"customer_id":7,"items":[{"sku":"A","qty":1,"unit_price_cents":100},{"sku":"B","qty":0,"unit_price_cents":100}]}`, "items[1].qty"},
		{`{"customer_id":7,"items":[{"sku":"A","qty":1.5,"unit_price_cents":100}]}`, "items[0].qty"},
		{`{"customer_id":7,"items":[{"sku":"A","qty":2,"unit_price_cents":-1}]}`, "items[0].unit_price_cents"},
	}
	for _, b := range bad {
		c = append(c, expect{name: "invalid order (" + b.field + ")", method: "POST", path: "/orders/quote", body: b.body, status: 422, field: b.field})
	}
	c = append(c, expect{name: "malformed json", method: "POST", path: "/orders/quote", body: `{"customer_id":`, status: 400, value: map[string]any{"error": "invalid json"}})
	c = append(c, computeCases()...)
	return append(c, gcCases()...)
}

// computeCases check the compute kernel byte for byte, at its defaults and
// at the edges of its parameters, and its 422s in seed, rounds, top order.
func computeCases() []expect {
	var c []expect
	for _, q := range []string{"", "?seed=0&rounds=64&top=3", "?seed=4294967295&rounds=1000&top=100", "?seed=12345&rounds=1&top=1", "?top=5&seed=7"} {
		v, _ := url.ParseQuery(strings.TrimPrefix(q, "?"))
		p, err := contract.ParseComputeParams(v)
		if err != nil {
			panic(fmt.Sprintf("compute case %q: %v", q, err)) // the cases above are valid
		}
		c = append(c, expect{name: "compute " + q, method: "GET", path: "/compute/rank" + q, status: 200, exact: contract.ComputeJSON(p)})
	}
	bad := []struct{ query, field string }{
		{"seed=-1", "seed"}, {"seed=4294967296", "seed"}, {"seed=", "seed"}, {"seed=abc&rounds=0", "seed"},
		{"rounds=0", "rounds"}, {"rounds=1001", "rounds"}, {"rounds=%2B5", "rounds"},
		{"top=0", "top"}, {"top=101", "top"}, {"top=abc", "top"},
	}
	for _, b := range bad {
		c = append(c, expect{name: "invalid compute (" + b.query + ")", method: "GET", path: "/compute/rank?" + b.query, status: 422, field: b.field})
	}
	return c
}

// gcCases check the GC load's endpoints: /gc/churn byte for byte and its
// 422s in seed, n order; /gc/stats's shape (its figures are the runtime's);
// /gc/reset.
func gcCases() []expect {
	var c []expect
	for _, q := range []string{"", "?seed=5&n=2", "?seed=4294967295&n=10000", "?n=1", "?n=37&seed=999999"} {
		v, _ := url.ParseQuery(strings.TrimPrefix(q, "?"))
		p, err := contract.ParseChurnParams(v)
		if err != nil {
			panic(fmt.Sprintf("churn case %q: %v", q, err)) // the cases above are valid
		}
		c = append(c, expect{name: "churn " + q, method: "GET", path: "/gc/churn" + q, status: 200, exact: contract.ChurnJSON(p)})
	}
	bad := []struct{ query, field string }{
		{"seed=-1", "seed"}, {"seed=4294967296", "seed"}, {"seed=", "seed"}, {"seed=x&n=0", "seed"},
		{"n=0", "n"}, {"n=10001", "n"}, {"n=%2B5", "n"}, {"n=", "n"},
	}
	for _, b := range bad {
		c = append(c, expect{name: "invalid churn (" + b.query + ")", method: "GET", path: "/gc/churn?" + b.query, status: 422, field: b.field})
	}
	stats := func(body []byte) string {
		if _, err := contract.DecodeGCStats(body); err != nil {
			return fmt.Sprintf("%v: %s", err, clip(body))
		}
		return ""
	}
	return append(c,
		expect{name: "gc stats", method: "GET", path: "/gc/stats", status: 200, check: stats},
		expect{name: "gc reset", method: "POST", path: "/gc/reset", status: 204, noBody: true},
		expect{name: "gc stats after reset", method: "GET", path: "/gc/stats", status: 200, check: stats},
	)
}

func roundTrip(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// Options choose the optional parts of the contract to check.
type Options struct {
	// Database: the target was given a freshly seeded database
	// (scenarios/db.sql), so its /db/ endpoints are checked too.
	Database bool
}

// Target runs every contract check against base (e.g. http://127.0.0.1:8080).
func Target(ctx context.Context, base string) Report {
	return TargetWith(ctx, base, Options{})
}

// TargetWith is Target with the optional parts opt asks for.
func TargetWith(ctx context.Context, base string, opt Options) Report {
	client := &http.Client{Timeout: 5 * time.Second}
	base = strings.TrimRight(base, "/")
	var rep Report
	all := cases()
	if opt.Database {
		all = append(all, dbCases()...)
	}
	for _, e := range all {
		rep.Checks = append(rep.Checks, run(ctx, client, base, e))
	}
	if opt.Database {
		rep.Checks = append(rep.Checks, placeOrder(ctx, client, base)...)
	}
	return rep
}

func run(ctx context.Context, client *http.Client, base string, e expect) Check {
	c := Check{Name: e.name}
	fail := func(format string, a ...any) Check {
		c.Problem = fmt.Sprintf(format, a...)
		return c
	}
	var body []byte
	if e.body != "" {
		body = []byte(e.body)
	}
	resp, got, err := fetch(ctx, client, e.method, base, e.path, body)
	if err != nil {
		return fail("%v", err)
	}
	if resp.StatusCode != e.status {
		return fail("%s %s: status %d, want %d (body %s)", e.method, e.path, resp.StatusCode, e.status, clip(got))
	}
	if e.name == "health" || e.noBody {
		c.OK = true
		return c
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fail("%s %s: Content-Type %q, want application/json", e.method, e.path, resp.Header.Get("Content-Type"))
	}
	switch {
	case e.exact != nil:
		if !bytes.Equal(got, e.exact) {
			return fail("%s %s: body differs from the reference at byte %d: got %s, want %s", e.method, e.path, firstDiff(got, e.exact), clip(got), clip(e.exact))
		}
	case e.field != "":
		var v map[string]any
		if err := json.Unmarshal(got, &v); err != nil {
			return fail("%s %s: body is not JSON: %s", e.method, e.path, clip(got))
		}
		if v["field"] != e.field || v["error"] != "validation failed" {
			return fail("%s %s: got %s, want {\"error\":\"validation failed\",\"field\":%q}", e.method, e.path, clip(got), e.field)
		}
	case e.check != nil:
		if problem := e.check(got); problem != "" {
			return fail("%s %s: %s", e.method, e.path, problem)
		}
	case e.value != nil:
		var v any
		if err := json.Unmarshal(got, &v); err != nil {
			return fail("%s %s: body is not JSON: %s", e.method, e.path, clip(got))
		}
		if !reflect.DeepEqual(v, e.value) {
			want, _ := json.Marshal(e.value)
			return fail("%s %s: got %s, want %s", e.method, e.path, clip(got), clip(want))
		}
	}
	c.OK = true
	return c
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func clip(b []byte) string {
	const n = 400
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
