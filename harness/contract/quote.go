package contract

import (
	"encoding/json"
	"fmt"
	"math"
)

// Limits of POST /orders/quote, as written in targets/README.md.
const (
	MaxItems      = 100
	MaxSKULen     = 64
	MaxQty        = 1000
	MaxPriceCents = 10_000_000
	// TaxBasisPoints is 8.25 %; tax is rounded half up in integer cents.
	TaxBasisPoints = 825
)

// QuoteItem is one line of an order request.
type QuoteItem struct {
	SKU            string `json:"sku"`
	Qty            int    `json:"qty"`
	UnitPriceCents int    `json:"unit_price_cents"`
}

// QuoteRequest is the body of POST /orders/quote.
type QuoteRequest struct {
	CustomerID int         `json:"customer_id"`
	Items      []QuoteItem `json:"items"`
}

// QuoteLine is one line of the answer.
type QuoteLine struct {
	SKU            string `json:"sku"`
	Qty            int    `json:"qty"`
	LineTotalCents int    `json:"line_total_cents"`
}

// Quote is the 200 answer of POST /orders/quote.
type Quote struct {
	CustomerID    int         `json:"customer_id"`
	Currency      string      `json:"currency"`
	Lines         []QuoteLine `json:"lines"`
	ItemCount     int         `json:"item_count"`
	SubtotalCents int         `json:"subtotal_cents"`
	TaxCents      int         `json:"tax_cents"`
	TotalCents    int         `json:"total_cents"`
}

// ComputeQuote prices a valid request.
func ComputeQuote(r QuoteRequest) Quote {
	q := Quote{CustomerID: r.CustomerID, Currency: "USD", Lines: make([]QuoteLine, 0, len(r.Items))}
	for _, it := range r.Items {
		line := it.Qty * it.UnitPriceCents
		q.Lines = append(q.Lines, QuoteLine{SKU: it.SKU, Qty: it.Qty, LineTotalCents: line})
		q.ItemCount += it.Qty
		q.SubtotalCents += line
	}
	q.TaxCents = (q.SubtotalCents*TaxBasisPoints + 5000) / 10000
	q.TotalCents = q.SubtotalCents + q.TaxCents
	return q
}

// ValidateQuote returns the name of the first invalid field of a decoded JSON
// body, in the order targets/README.md fixes, or "" when the order is valid.
// It works on the generic decoding so it can judge bodies that do not fit
// QuoteRequest (a string qty, a missing field).
func ValidateQuote(body any) string {
	obj, ok := body.(map[string]any)
	if !ok {
		return "body"
	}
	if !isIntIn(obj["customer_id"], 1, math.MaxInt32) {
		return "customer_id"
	}
	items, ok := obj["items"].([]any)
	if !ok || len(items) < 1 || len(items) > MaxItems {
		return "items"
	}
	for i, raw := range items {
		it, ok := raw.(map[string]any)
		if !ok {
			return fmt.Sprintf("items[%d]", i)
		}
		if sku, ok := it["sku"].(string); !ok || len(sku) < 1 || len(sku) > MaxSKULen {
			return fmt.Sprintf("items[%d].sku", i)
		}
		if !isIntIn(it["qty"], 1, MaxQty) {
			return fmt.Sprintf("items[%d].qty", i)
		}
		if !isIntIn(it["unit_price_cents"], 0, MaxPriceCents) {
			return fmt.Sprintf("items[%d].unit_price_cents", i)
		}
	}
	return ""
}

func isIntIn(v any, lo, hi float64) bool {
	f, ok := v.(float64)
	return ok && f == math.Trunc(f) && f >= lo && f <= hi
}

// SampleOrders are the valid bodies the load mix posts; fixed so every target
// does the same work and every run is repeatable.
func SampleOrders() [][]byte {
	skus := []string{"SKU-1001", "SKU-2002", "SKU-3003", "SKU-4004", "SKU-5005", "SKU-6006", "SKU-7007", "SKU-8008"}
	var out [][]byte
	for n := 1; n <= 8; n++ {
		r := QuoteRequest{CustomerID: 1000 + n}
		for i := 0; i < n; i++ {
			r.Items = append(r.Items, QuoteItem{SKU: skus[(n+i)%len(skus)], Qty: 1 + (n*i)%5, UnitPriceCents: 199 + 1000*i + 37*n})
		}
		b, _ := json.Marshal(r)
		out = append(out, b)
	}
	return out
}
