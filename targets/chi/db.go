package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The database endpoints (targets/README.md, "The database endpoints"): pgx
// v5 through a pgxpool, the contract's four statements prepared on every
// connection as it opens. The SQL is harness/contract/db.go's, byte for byte,
// so every target asks the database for the same work.
const (
	sqlUser = `SELECT id, name, email, active, created_at, tags, street, city, postcode, country, bio FROM users WHERE id = $1`

	sqlUserOrders = `SELECT o.id, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at, o.status, ` +
		`count(*)::int AS lines, sum(l.qty * l.unit_price_cents)::bigint AS subtotal_cents ` +
		`FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.user_id = $1 ` +
		`GROUP BY o.id ORDER BY o.created_at DESC, o.id DESC LIMIT $2`

	sqlInsertOrder = `INSERT INTO orders (user_id, created_at, status) VALUES ($1, now(), 'placed') RETURNING id`

	sqlInsertLines = `INSERT INTO order_lines (order_id, line, sku, qty, unit_price_cents) ` +
		`SELECT $1, t.ord, t.sku, t.qty, t.price FROM unnest($2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS t(sku, qty, price, ord)`
)

// The statements' names. pgx runs a query whose text is the name of a
// statement prepared on that connection as that statement: bind and execute,
// no parse or plan per request.
const (
	stmtUser        = "user"
	stmtUserOrders  = "user_orders"
	stmtInsertOrder = "insert_order"
	stmtInsertLines = "insert_lines"
)

var statements = [...]struct{ name, sql string }{
	{stmtUser, sqlUser},
	{stmtUserOrders, sqlUserOrders},
	{stmtInsertOrder, sqlInsertOrder},
	{stmtInsertLines, sqlInsertLines},
}

// Limits of GET /db/users/{id}/orders.
const (
	ordersDefaultLimit = 10
	ordersMaxLimit     = 100
)

// dbConnectTimeout bounds opening the pool at start-up.
const dbConnectTimeout = 10 * time.Second

// openDB opens a pool of exactly size connections (MinConns = MaxConns) and
// connects all of them before it returns, so an unreachable database is a
// start-up error and the first request finds the pool warm: no connection is
// ever opened on a request's path (pgxpool reopens a lost one in the
// background).
func openDB(url string, size int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(size)
	cfg.MinConns = int32(size)
	// Prepared once per connection, before the pool hands it out; a
	// statement the schema rejects fails the start-up too.
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		for _, s := range statements {
			if _, err := c.Prepare(ctx, s.name, s.sql); err != nil {
				return fmt.Errorf("prepare %s: %w", s.name, err)
			}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbConnectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Holding every connection at once forces the pool to open all of them
	// (the background fill of MinConns would race the first requests).
	held := make([]*pgxpool.Conn, 0, size)
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range size {
		c, err := pool.Acquire(ctx)
		if err != nil {
			pool.Close()
			return nil, err
		}
		held = append(held, c)
	}
	return pool, nil
}

// database serves the /db/ routes; pool is nil when DATABASE_URL is unset,
// and a valid request then answers 503. Validation needs no database, so a
// bad id or limit gets its 404 or 422 either way.
type database struct {
	pool *pgxpool.Pool
}

// orderSummary and userOrders are the answer of GET /db/users/{id}/orders;
// field order is the key order of the contract.
type orderSummary struct {
	ID            int64  `json:"id"`
	CreatedAt     string `json:"created_at"`
	Status        string `json:"status"`
	Lines         int32  `json:"lines"`
	SubtotalCents int64  `json:"subtotal_cents"`
}

type userOrders struct {
	UserID int            `json:"user_id"`
	Orders []orderSummary `json:"orders"`
}

// placedOrder is the answer of POST /db/orders: the new id, then the quote's
// fields (encoding/json promotes an embedded struct's fields in place).
type placedOrder struct {
	OrderID int64 `json:"order_id"`
	quote
}

// available answers 503 when there is no database.
func (d database) available(w http.ResponseWriter) bool {
	if d.pool == nil {
		writeError(w, http.StatusServiceUnavailable, "no database")
		return false
	}
	return true
}

// failed answers a database error with a 500 and logs it: the log holds
// nothing in the happy path (no request logging). A request whose client
// went away is not the database's fault and is not logged.
func failed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() == nil {
		log.Printf("chi: database: %s: %v", what, err)
	}
	writeError(w, http.StatusInternalServerError, "database")
}

func (d database) routes(r chi.Router) {
	r.Get("/db/users/{id}", d.user)
	r.Get("/db/users/{id}/orders", d.userOrders)
	r.Post("/db/orders", d.placeOrder)
}

// GET /db/users/{id}: Q1, scanned into the store's User struct, so the bytes
// are /users/{id}'s.
func (d database) user(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(chi.URLParam(r, "id"))
	if !ok {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if !d.available(w) {
		return
	}
	var u User
	err := d.pool.QueryRow(r.Context(), stmtUser, id).Scan(&u.ID, &u.Name, &u.Email, &u.Active,
		&u.CreatedAt, &u.Tags, &u.Address.Street, &u.Address.City, &u.Address.Postcode, &u.Address.Country, &u.Bio)
	if errors.Is(err, pgx.ErrNoRows) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if err != nil {
		failed(w, r, "user", err)
		return
	}
	writeJSON(w, http.StatusOK, &u)
}

// GET /db/users/{id}/orders?limit=N: Q2, newest first.
func (d database) userOrders(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(chi.URLParam(r, "id"))
	if !ok {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	limit := uint64(ordersDefaultLimit)
	// Absent: the default; present, even empty: digits in 1..100 (the first
	// of a repeated one counts, as url.Values.Get).
	if v, ok := r.URL.Query()["limit"]; ok {
		if limit, ok = decimalIn(v[0], 1, ordersMaxLimit); !ok {
			writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "validation failed", Field: "limit"})
			return
		}
	}
	if !d.available(w) {
		return
	}
	rows, err := d.pool.Query(r.Context(), stmtUserOrders, id, int64(limit))
	if err != nil {
		failed(w, r, "user orders", err)
		return
	}
	defer rows.Close()
	// Never nil, so that no orders encode as [] rather than null.
	res := userOrders{UserID: id, Orders: make([]orderSummary, 0, limit)}
	for rows.Next() {
		var o orderSummary
		if err := rows.Scan(&o.ID, &o.CreatedAt, &o.Status, &o.Lines, &o.SubtotalCents); err != nil {
			failed(w, r, "user orders", err)
			return
		}
		res.Orders = append(res.Orders, o)
	}
	if err := rows.Err(); err != nil {
		failed(w, r, "user orders", err)
		return
	}
	writeJSON(w, http.StatusOK, &res)
}

// POST /db/orders: the quote's parsing and validation (same 400/413/422),
// then Q3 and Q4 in one transaction, then the quote with the new id first.
func (d database) placeOrder(w http.ResponseWriter, r *http.Request) {
	o, ok := readOrder(w, r)
	if !ok {
		return
	}
	if !d.available(w) {
		return
	}
	id, err := d.insertOrder(r.Context(), o)
	if err != nil {
		failed(w, r, "place order", err)
		return
	}
	writeJSON(w, http.StatusOK, &placedOrder{OrderID: id, quote: price(o)})
}

// insertOrder runs Q3 then Q4 (the items as three parallel arrays: text[],
// int[], int[]) between BEGIN and COMMIT. Any error rolls back: the deferred
// Rollback is a no-op after a successful Commit.
func (d database) insertOrder(ctx context.Context, o order) (int64, error) {
	skus := make([]string, len(o.items))
	qtys := make([]int32, len(o.items))
	prices := make([]int32, len(o.items))
	// Validation bounds qty by 1000 and the price by 10,000,000: both fit int4.
	for i, it := range o.items {
		skus[i], qtys[i], prices[i] = it.sku, int32(it.qty), int32(it.unitPriceCents)
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	// A failed rollback needs no handling: pgx then closes the connection and
	// the pool opens another.
	defer func() { _ = tx.Rollback(ctx) }()
	var id int64
	if err := tx.QueryRow(ctx, stmtInsertOrder, int32(o.customerID)).Scan(&id); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, stmtInsertLines, id, skus, qtys, prices); err != nil {
		return 0, err
	}
	return id, tx.Commit(ctx)
}
