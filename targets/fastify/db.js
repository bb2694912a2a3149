// The database endpoints of targets/README.md ("The database endpoints"):
// node-postgres (`pg`) through its Pool, the contract's four statements as
// named prepared statements. The SQL is harness/contract/db.go's, byte for
// byte, so every target asks the database for the same work. server.js
// imports this module only when DATABASE_URL is set, so without a database
// no process loads pg; app.js serves the routes with what openDB returns.

import pg from 'pg'

export const SQL_USER = 'SELECT id, name, email, active, created_at, tags, street, city, postcode, country, bio FROM users WHERE id = $1'
export const SQL_USER_ORDERS = 'SELECT o.id, to_char(o.created_at AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS"Z"\') AS created_at, o.status, ' +
  'count(*)::int AS lines, sum(l.qty * l.unit_price_cents)::bigint AS subtotal_cents ' +
  'FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.user_id = $1 ' +
  'GROUP BY o.id ORDER BY o.created_at DESC, o.id DESC LIMIT $2'
export const SQL_INSERT_ORDER = 'INSERT INTO orders (user_id, created_at, status) VALUES ($1, now(), \'placed\') RETURNING id'
export const SQL_INSERT_LINES = 'INSERT INTO order_lines (order_id, line, sku, qty, unit_price_cents) ' +
  'SELECT $1, t.ord, t.sku, t.qty, t.price FROM unnest($2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS t(sku, qty, price, ord)'

// How long the start-up may take to open every connection.
const CONNECT_TIMEOUT_MS = 10000

// pg hands a bigint (int8) back as a string, since it may not fit a double.
// Every int8 here (order ids, subtotals) is far below 2^53, so this pool
// reads them as numbers and the response schemas get integers. Other types
// keep pg's parsers (int4 → number, bool → boolean, text[] → array).
const INT8_OID = 20
const types = {
  getTypeParser: (oid, format) => oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)
}

// poolShare is how many connections cluster worker `index` (0-based) opens:
// DB_POOL split over the workers so that together they hold DB_POOL (8 over
// 3 workers: 3, 3, 2), and at least 1 each, so a DB_POOL below the number of
// workers gives one connection per worker.
export function poolShare (total, workers, index) {
  const share = Math.floor(total / workers) + (index < total % workers ? 1 : 0)
  return Math.max(1, share)
}

// openDB opens a pool of `size` connections and connects all of them before
// it resolves: an unreachable database is a start-up error, and no request
// waits for a connect. min = max keeps every connection open when idle (pg's
// default would close one idle for 10 s). It resolves to the queries the
// routes run: user, userOrders, placeOrder, and close.
export async function openDB (connectionString, size) {
  const pool = new pg.Pool({ connectionString, max: size, min: size, types })
  // A connection that breaks while idle is removed by the pool and reported
  // here; without a listener the 'error' event would end the process.
  pool.on('error', (err) => {
    console.error(`fastify: database: idle connection: ${err.message}`)
  })
  const clients = []
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS)
  })
  try {
    // Holding every client at once makes the pool open `size` connections.
    for (let i = 0; i < size; i++) clients.push(await Promise.race([pool.connect(), timeout]))
  } catch (err) {
    for (const c of clients) c.release(true)
    pool.end().catch(() => {})
    throw err
  } finally {
    clearTimeout(timer)
  }
  for (const c of clients) c.release()
  return {
    user: (id) => user(pool, id),
    userOrders: (id, limit) => userOrders(pool, id, limit),
    placeOrder: (order) => placeOrder(pool, order),
    close: () => pool.end()
  }
}

// Each query is a named statement: pg parses it once per connection (on its
// first use there) and afterwards only binds and executes it.

// user runs Q1 and returns the contract's record (keys in contract order,
// the address from its four columns), or undefined when there is no row.
async function user (pool, id) {
  const { rows } = await pool.query({ name: 'user', text: SQL_USER, values: [id] })
  if (rows.length === 0) return undefined
  const r = rows[0]
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    active: r.active,
    created_at: r.created_at,
    tags: r.tags,
    address: { street: r.street, city: r.city, postcode: r.postcode, country: r.country },
    bio: r.bio
  }
}

// userOrders runs Q2: the rows already have the answer's keys and types.
async function userOrders (pool, id, limit) {
  const { rows } = await pool.query({ name: 'user_orders', text: SQL_USER_ORDERS, values: [id, limit] })
  return { user_id: id, orders: rows }
}

// placeOrder runs Q3 and Q4 (the items as three parallel arrays: text[],
// int[], int[]) in one transaction on one client and returns the new id.
// Any error rolls back; a client whose rollback fails too is destroyed
// rather than returned to the pool.
async function placeOrder (pool, order) {
  const items = order.items
  const skus = new Array(items.length)
  const qtys = new Array(items.length)
  const prices = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    skus[i] = items[i].sku
    qtys[i] = items[i].qty
    prices[i] = items[i].unit_price_cents
  }
  const client = await pool.connect()
  let broken
  try {
    await client.query('BEGIN')
    const { rows } = await client.query({ name: 'insert_order', text: SQL_INSERT_ORDER, values: [order.customer_id] })
    const id = rows[0].id
    await client.query({ name: 'insert_lines', text: SQL_INSERT_LINES, values: [id, skus, qtys, prices] })
    await client.query('COMMIT')
    return id
  } catch (err) {
    try {
      await client.query('ROLLBACK')
    } catch (rollbackErr) {
      broken = rollbackErr
    }
    throw err
  } finally {
    client.release(broken)
  }
}
