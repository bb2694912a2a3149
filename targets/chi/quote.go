package main

import (
	"fmt"
	"math"
)

// Limits of POST /orders/quote (targets/README.md).
const (
	maxItems       = 100
	maxSKUBytes    = 64
	maxQty         = 1000
	maxPriceCents  = 10_000_000
	taxBasisPoints = 825 // 8.25 %
)

type orderItem struct {
	sku            string
	qty            int64
	unitPriceCents int64
}

type order struct {
	customerID int64
	items      []orderItem
}

type quoteLine struct {
	SKU            string `json:"sku"`
	Qty            int64  `json:"qty"`
	LineTotalCents int64  `json:"line_total_cents"`
}

// quote is the 200 answer; field order is the key order of the contract.
type quote struct {
	CustomerID    int64       `json:"customer_id"`
	Currency      string      `json:"currency"`
	Lines         []quoteLine `json:"lines"`
	ItemCount     int64       `json:"item_count"`
	SubtotalCents int64       `json:"subtotal_cents"`
	TaxCents      int64       `json:"tax_cents"`
	TotalCents    int64       `json:"total_cents"`
}

// parseOrder checks a body decoded into interface values against the
// contract's rules and returns the order, or the name of the first field
// that breaks a rule. The body is decoded generically rather than into a
// struct because a wrongly typed field (a string customer_id, a fractional
// qty) must become a 422 naming that field in the contract's order, not a
// decoding error.
func parseOrder(body any) (order, string) {
	obj, ok := body.(map[string]any)
	if !ok {
		return order{}, "body"
	}
	customerID, ok := intIn(obj["customer_id"], 1, math.MaxInt32)
	if !ok {
		return order{}, "customer_id"
	}
	raw, ok := obj["items"].([]any)
	if !ok || len(raw) < 1 || len(raw) > maxItems {
		return order{}, "items"
	}
	o := order{customerID: customerID, items: make([]orderItem, len(raw))}
	for i, v := range raw {
		it, ok := v.(map[string]any)
		if !ok {
			return order{}, fmt.Sprintf("items[%d]", i)
		}
		sku, ok := it["sku"].(string)
		if !ok || len(sku) < 1 || len(sku) > maxSKUBytes {
			return order{}, fmt.Sprintf("items[%d].sku", i)
		}
		qty, ok := intIn(it["qty"], 1, maxQty)
		if !ok {
			return order{}, fmt.Sprintf("items[%d].qty", i)
		}
		price, ok := intIn(it["unit_price_cents"], 0, maxPriceCents)
		if !ok {
			return order{}, fmt.Sprintf("items[%d].unit_price_cents", i)
		}
		o.items[i] = orderItem{sku: sku, qty: qty, unitPriceCents: price}
	}
	return o, ""
}

// intIn accepts a JSON number with no fractional part in lo..hi. Every bound
// is far below 2^53, so the float64 encoding/json produces is exact.
func intIn(v any, lo, hi float64) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < lo || f > hi {
		return 0, false
	}
	return int64(f), true
}

// price computes the quote. With the limits above the subtotal stays below
// 10^12, so int64 arithmetic cannot overflow.
func price(o order) quote {
	q := quote{CustomerID: o.customerID, Currency: "USD", Lines: make([]quoteLine, len(o.items))}
	for i, it := range o.items {
		line := it.qty * it.unitPriceCents
		q.Lines[i] = quoteLine{SKU: it.sku, Qty: it.qty, LineTotalCents: line}
		q.ItemCount += it.qty
		q.SubtotalCents += line
	}
	// Integer division after adding half the divisor: 8.25 %, rounded half up.
	q.TaxCents = (q.SubtotalCents*taxBasisPoints + 5000) / 10000
	q.TotalCents = q.SubtotalCents + q.TaxCents
	return q
}
