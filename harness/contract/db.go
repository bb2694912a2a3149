package contract

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// The database-bound endpoints (scenarios/db.yaml) read and write a real
// PostgreSQL seeded by scenarios/db.sql. Every target runs the same SQL
// (below, as prepared statements through its ecosystem's standard driver
// and pool), so the database does the same work whoever asks; this file
// is also the reference `harness verify` checks the answers against, from
// the seed's formulas.
const (
	// DatabaseURLEnv names the connection string the harness gives a target
	// when the scenario has a database (postgres://user@127.0.0.1:port/db);
	// DBPoolEnv the pool size every target uses.
	DatabaseURLEnv = "DATABASE_URL"
	DBPoolEnv      = "DB_POOL"

	SeedOrders          = 1000000
	SeedLinesPerOrder   = 2
	OrdersDefaultLimit  = 10
	OrdersMaxLimit      = 100
	seedOrderUserFactor = 7919
	seedOrderEpoch      = 1704067200 // 2024-01-01T00:00:00Z
	seedOrderSpacing    = 37         // seconds between consecutive seed orders
)

// The statements, byte for byte as targets/README.md gives them.
const (
	SQLUser = `SELECT id, name, email, active, created_at, tags, street, city, postcode, country, bio FROM users WHERE id = $1`

	SQLUserOrders = `SELECT o.id, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at, o.status, ` +
		`count(*)::int AS lines, sum(l.qty * l.unit_price_cents)::bigint AS subtotal_cents ` +
		`FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.user_id = $1 ` +
		`GROUP BY o.id ORDER BY o.created_at DESC, o.id DESC LIMIT $2`

	SQLInsertOrder = `INSERT INTO orders (user_id, created_at, status) VALUES ($1, now(), 'placed') RETURNING id`

	SQLInsertLines = `INSERT INTO order_lines (order_id, line, sku, qty, unit_price_cents) ` +
		`SELECT $1, t.ord, t.sku, t.qty, t.price FROM unnest($2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS t(sku, qty, price, ord)`
)

var seedStatuses = []string{"placed", "paid", "shipped", "delivered"}

// OrderSummary is one entry of GET /db/users/{id}/orders; field order is
// the serialisation order.
type OrderSummary struct {
	ID            int64  `json:"id"`
	CreatedAt     string `json:"created_at"`
	Status        string `json:"status"`
	Lines         int    `json:"lines"`
	SubtotalCents int64  `json:"subtotal_cents"`
}

// UserOrders is the answer of GET /db/users/{id}/orders.
type UserOrders struct {
	UserID int            `json:"user_id"`
	Orders []OrderSummary `json:"orders"`
}

// ParseOrdersLimit reads limit (1..100, default 10); any other value is an
// error naming the field, answered 422.
func ParseOrdersLimit(q url.Values) (int, error) {
	if !q.Has("limit") {
		return OrdersDefaultLimit, nil
	}
	v := q.Get("limit")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > OrdersMaxLimit || v[0] == '+' {
		return 0, fmt.Errorf("limit")
	}
	return n, nil
}

// SeedUserOrders is what GET /db/users/{id}/orders?limit=N answers on the
// seeded database, before any POST: the user's seed orders, newest first.
// Seed order k belongs to user (k*7919 mod 10000)+1, so a user's orders are
// k0, k0+10000, ... for the k0 that 7919 maps to it.
func SeedUserOrders(userID, limit int) UserOrders {
	out := UserOrders{UserID: userID, Orders: []OrderSummary{}}
	k0 := 0
	for k := 1; k <= 10000; k++ {
		if k*seedOrderUserFactor%UserCount+1 == userID {
			k0 = k
			break
		}
	}
	last := k0 + (SeedOrders-k0)/UserCount*UserCount
	for k := last; k >= 1 && len(out.Orders) < limit; k -= UserCount {
		out.Orders = append(out.Orders, seedOrderSummary(int64(k)))
	}
	return out
}

// seedOrderSummary is seed order k as the listing shows it.
func seedOrderSummary(k int64) OrderSummary {
	s := OrderSummary{ID: k, Status: seedStatuses[k%4], Lines: SeedLinesPerOrder,
		CreatedAt: time.Unix(seedOrderEpoch+k*seedOrderSpacing, 0).UTC().Format("2006-01-02T15:04:05Z")}
	for n := int64(1); n <= SeedLinesPerOrder; n++ {
		qty, price := (k+n)%5+1, (k*13+n*7)%10000+99
		s.SubtotalCents += qty * price
	}
	return s
}

// SeedUserOrdersJSON is the canonical encoding of SeedUserOrders.
func SeedUserOrdersJSON(userID, limit int) []byte {
	b, err := json.Marshal(SeedUserOrders(userID, limit))
	if err != nil {
		panic(fmt.Sprintf("marshal orders: %v", err)) // plain structs cannot fail
	}
	return b
}

// PlacedOrder is the answer of POST /db/orders: the quote, and the id the
// database gave the order.
type PlacedOrder struct {
	OrderID int64 `json:"order_id"`
	Quote
}
