package contract

import (
	"encoding/json"
	"testing"
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
