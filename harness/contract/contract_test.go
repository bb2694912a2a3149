package contract

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUserJSONMatchesDocumentedExamples(t *testing.T) {
	// The same bytes are quoted in targets/README.md; a change here is a
	// contract change every target must follow.
	cases := map[int]string{
		1:     `{"id":1,"name":"Bruno Anders","email":"bruno.anders1@example.com","active":true,"created_at":"2024-01-01T01:00:07Z","tags":["beta","billing"],"address":{"street":"101 Oak Ave","city":"Berlin","postcode":"07919","country":"DE"},"bio":"Member #1 since 2024. Writes about distributed systems, reliable APIs and the occasional benchmark."}`,
		10000: `{"id":10000,"name":"Alice Brooks","email":"alice.brooks10000@example.com","active":true,"created_at":"2025-02-21T11:26:40Z","tags":["admin","apac"],"address":{"street":"200 Main St","city":"Lisbon","postcode":"90000","country":"PT"},"bio":"Member #10000 since 2025. Writes about distributed systems, reliable APIs and the occasional benchmark."}`,
	}
	for id, want := range cases {
		if got := string(UserJSON(id)); got != want {
			t.Errorf("user %d:\n got %s\nwant %s", id, got, want)
		}
	}
}

func TestUsersAreDistinctAndSized(t *testing.T) {
	emails := map[string]bool{}
	for id := 1; id <= UserCount; id++ {
		u := NewUser(id)
		if u.Tags[0] == u.Tags[1] {
			t.Fatalf("user %d has a repeated tag %q", id, u.Tags[0])
		}
		if emails[u.Email] {
			t.Fatalf("user %d repeats email %s", id, u.Email)
		}
		emails[u.Email] = true
		if n := len(UserJSON(id)); n < 300 || n > 600 {
			t.Fatalf("user %d is %d bytes, want 300-600", id, n)
		}
	}
}

func TestQuote(t *testing.T) {
	q := ComputeQuote(QuoteRequest{CustomerID: 1002, Items: []QuoteItem{{"SKU-3003", 1, 273}, {"SKU-4004", 3, 1273}}})
	if q.SubtotalCents != 4092 || q.TaxCents != 338 || q.TotalCents != 4430 || q.ItemCount != 4 {
		t.Fatalf("quote = %+v", q)
	}
	// Half-up rounding: 10000 * 8.25% = 825 exactly; 20 * 8.25% = 1.65 -> 2.
	if got := ComputeQuote(QuoteRequest{Items: []QuoteItem{{"A", 1, 20}}}).TaxCents; got != 2 {
		t.Fatalf("tax of 20 cents = %d, want 2", got)
	}
}

func TestValidateQuote(t *testing.T) {
	cases := []struct{ body, field string }{
		{`{"customer_id":1,"items":[{"sku":"A","qty":1,"unit_price_cents":0}]}`, ""},
		{`[]`, "body"},
		{`{"customer_id":0,"items":[]}`, "customer_id"},
		{`{"customer_id":1.5}`, "customer_id"},
		{`{"customer_id":1,"items":{}}`, "items"},
		{`{"customer_id":1,"items":[{"sku":"A","qty":1001,"unit_price_cents":1}]}`, "items[0].qty"},
		{`{"customer_id":1,"items":[{"sku":"A","qty":1,"unit_price_cents":10000001}]}`, "items[0].unit_price_cents"},
		{`{"customer_id":1,"items":[{"sku":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","qty":1,"unit_price_cents":1}]}`, "items[0].sku"},
	}
	for _, c := range cases {
		var v any
		if err := json.Unmarshal([]byte(c.body), &v); err != nil {
			t.Fatal(err)
		}
		if got := ValidateQuote(v); got != c.field {
			t.Errorf("%s: field %q, want %q", c.body, got, c.field)
		}
	}
}

func TestChurnParams(t *testing.T) {
	cases := []struct {
		query, field string
		want         ChurnParams
	}{
		{"", "", ChurnParams{Seed: 0, N: ChurnDefaultN}},
		{"seed=4294967295&n=10000", "", ChurnParams{Seed: 4294967295, N: 10000}},
		{"seed=4294967296", "seed", ChurnParams{}},
		{"seed=%2B1", "seed", ChurnParams{}},
		{"seed=x&n=0", "seed", ChurnParams{}},
		{"n=0", "n", ChurnParams{}},
		{"n=10001", "n", ChurnParams{}},
		{"n=", "n", ChurnParams{}},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.query)
		got, err := ParseChurnParams(q)
		switch {
		case tc.field != "" && (err == nil || err.Error() != tc.field):
			t.Errorf("%q: error %v, want one naming %q", tc.query, err, tc.field)
		case tc.field == "" && (err != nil || got != tc.want):
			t.Errorf("%q: got %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
	}
}

func TestChurnMatchesDocumentedExample(t *testing.T) {
	want := `{"seed":5,"n":2,"items":[{"id":0,"key":"k5","score":5,"tags":["t0","u0"]},{"id":1,"key":"k6","score":12,"tags":["t1","u1"]}]}`
	if got := string(ChurnJSON(ChurnParams{Seed: 5, N: 2})); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// The key wraps at 1000003 and the score at 1000, from a seed near 2^32.
	r := Churn(ChurnParams{Seed: 4294967295, N: 3})
	if r.Items[2].Key != "k"+strconv.Itoa(int((4294967295+2)%1000003)) || r.Items[2].Score != (295+14)%1000 {
		t.Fatalf("wrap-around item: %+v", r.Items[2])
	}
}

func TestGCStatsCheck(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name  string
		stats GCStats
		want  string // "" or a substring of the problem
	}{
		{"go", GCStats{Runtime: "go", LiveObjects: 10, Collections: n(2), Pauses: n(4), PauseP50MS: f(0.1), PauseP99MS: f(0.2), PauseMaxMS: f(0.2)}, ""},
		{"go before any pause", GCStats{Runtime: "go", Collections: n(0), Pauses: n(0)}, ""},
		{"go with pauses and no percentiles", GCStats{Runtime: "go", Collections: n(1), Pauses: n(2)}, "is null"},
		{"go without a pause count", GCStats{Runtime: "go", Collections: n(1)}, "must count its pauses"},
		{"beam", GCStats{Runtime: "beam", Collections: n(900), LargestProcessGCMS: f(0), LongGCs: n(0)}, ""},
		{"beam without its largest process gc", GCStats{Runtime: "beam", Collections: n(900)}, "largest_process_gc_ms"},
		{"rust", GCStats{Runtime: "rust", LiveObjects: 3}, ""},
		{"rust with pauses", GCStats{Runtime: "rust", Pauses: n(1)}, "no stop-the-world pauses"},
		{"node with largest process gc", GCStats{Runtime: "node", Pauses: n(0), LargestProcessGCMS: f(1)}, "largest_process_gc_ms"},
		{"unknown runtime", GCStats{Runtime: "jvm"}, "not one of"},
		{"negative", GCStats{Runtime: "rust", LiveObjects: -1}, "negative"},
		{"out of order", GCStats{Runtime: "node", Pauses: n(3), PauseP50MS: f(2), PauseP99MS: f(1), PauseMaxMS: f(3)}, "out of order"},
	}
	for _, tc := range cases {
		got := tc.stats.Check()
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: Check() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A user's seed orders are the k with k*7919 mod 10000 = id-1, newest
// (highest k) first, a hundred of them.
func TestSeedUserOrders(t *testing.T) {
	for _, id := range []int{1, 7, 9999, 10000} {
		all := SeedUserOrders(id, OrdersMaxLimit)
		if len(all.Orders) != SeedOrders/UserCount {
			t.Fatalf("user %d: %d orders, want %d", id, len(all.Orders), SeedOrders/UserCount)
		}
		for i, o := range all.Orders {
			if int(o.ID*seedOrderUserFactor%UserCount)+1 != id || i > 0 && o.ID >= all.Orders[i-1].ID || o.ID > SeedOrders {
				t.Fatalf("user %d: order %d (%+v) is not its next-newest", id, i, o)
			}
		}
	}
	got := SeedUserOrders(7, 2)
	if len(got.Orders) != 2 || got.Orders[0].CreatedAt != time.Unix(seedOrderEpoch+got.Orders[0].ID*37, 0).UTC().Format(time.RFC3339) {
		t.Fatalf("limit 2: %+v", got)
	}
}
