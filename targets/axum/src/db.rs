//! The database endpoints of targets/README.md ("The database endpoints"):
//! tokio-postgres through a deadpool-postgres pool of `DB_POOL` connections,
//! the contract's four statements prepared on every connection
//! (`prepare_cached`: parsed and planned once per connection, then only
//! bound and executed). The SQL is harness/contract/db.go's, byte for byte,
//! so every target asks the database for the same work.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use serde::Serialize;
use tokio::sync::Barrier;
use tokio_postgres::NoTls;

use crate::compute::{field, unescape};
use crate::quote::Quote;
use crate::users::{Address, User};

pub const SQL_USER: &str = "SELECT id, name, email, active, created_at, tags, street, city, postcode, country, bio FROM users WHERE id = $1";
pub const SQL_USER_ORDERS: &str = concat!(
    "SELECT o.id, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at, o.status, ",
    "count(*)::int AS lines, sum(l.qty * l.unit_price_cents)::bigint AS subtotal_cents ",
    "FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.user_id = $1 ",
    "GROUP BY o.id ORDER BY o.created_at DESC, o.id DESC LIMIT $2"
);
pub const SQL_INSERT_ORDER: &str =
    "INSERT INTO orders (user_id, created_at, status) VALUES ($1, now(), 'placed') RETURNING id";
pub const SQL_INSERT_LINES: &str = concat!(
    "INSERT INTO order_lines (order_id, line, sku, qty, unit_price_cents) ",
    "SELECT $1, t.ord, t.sku, t.qty, t.price FROM unnest($2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS t(sku, qty, price, ord)"
);

const STATEMENTS: [&str; 4] = [
    SQL_USER,
    SQL_USER_ORDERS,
    SQL_INSERT_ORDER,
    SQL_INSERT_LINES,
];

/// `limit` of GET /db/users/{id}/orders.
pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 100;

/// Reads `limit` (1..=100, default 10) from a raw query string as
/// `compute::Params::parse` reads its parameters; Err names the field.
pub fn parse_limit(query: &str) -> Result<u32, &'static str> {
    let mut limit: Option<Cow<'_, [u8]>> = None;
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if limit.is_none() && unescape(key).as_deref() == Some(b"limit") {
            limit = unescape(value);
        }
    }
    field(limit, 1, MAX_LIMIT, DEFAULT_LIMIT).ok_or("limit")
}

/// How long the start-up may take to open the connections.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A record read by Q1: the store's `User` with owned strings, so the same
/// serialisation (users.rs).
pub type DbUser = User<String, Vec<String>>;

/// One order of GET /db/users/{id}/orders; fields in the contract's key order.
#[derive(Serialize)]
pub struct OrderSummary {
    id: i64,
    created_at: String,
    status: String,
    lines: i32,
    subtotal_cents: i64,
}

#[derive(Serialize)]
pub struct UserOrders {
    user_id: u32,
    orders: Vec<OrderSummary>,
}

impl UserOrders {
    /// Room for the whole answer: under 100 bytes per order.
    pub fn json_capacity(&self) -> usize {
        32 + 100 * self.orders.len()
    }
}

/// The answer of POST /db/orders: the new id, then the quote's keys.
#[derive(Serialize)]
pub struct Placed<'a> {
    pub order_id: i64,
    #[serde(flatten)]
    pub quote: Quote<'a>,
}

/// A database failure: getting a connection from the pool (which opens one
/// when a connection was lost) or a statement.
#[derive(Debug)]
pub enum Error {
    Pool(PoolError),
    Pg(tokio_postgres::Error),
    Timeout,
}

impl From<PoolError> for Error {
    fn from(e: PoolError) -> Error {
        Error::Pool(e)
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Error {
        Error::Pg(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Pool(PoolError::Backend(e)) | Error::Pg(e) => f.write_str(&one_line(e)),
            Error::Pool(e) => f.write_str(&one_line(e)),
            Error::Timeout => write!(f, "no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        }
    }
}

/// An error and its sources on one line: tokio-postgres's own message is
/// only the kind ("db error"), the server's text is in its source (where a
/// DETAIL or HINT starts a new line).
fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut err = err;
    while let Some(source) = err.source() {
        line.push_str(": ");
        line.push_str(&source.to_string());
        err = source;
    }
    line.replace('\n', " ")
}

/// The pool. Connections are opened by `warm` at start-up; deadpool opens a
/// replacement when a request finds one closed.
pub struct Db {
    pool: Pool,
}

impl Db {
    /// The pool of `size` connections, none open yet.
    pub fn new(url: &str, size: usize) -> Result<Db, String> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("DATABASE_URL: {}", one_line(&e)))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            // Fast: a pooled connection is reused unless it is closed; no
            // test query per checkout.
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .build()
            .map_err(|e| format!("pool: {e}"))?;
        Ok(Db { pool })
    }

    /// Opens `count` connections on the calling runtime and prepares the four
    /// statements on each, then waits at `barrier` for the other runtimes'
    /// share before handing them back to the pool. A connection's I/O is
    /// driven by the runtime that opened it (deadpool spawns its task there),
    /// so each runtime opens its share; holding them until every share is
    /// open makes the pool open new ones instead of reusing a returned one.
    pub async fn warm(&self, count: usize, barrier: &Barrier) -> Result<(), Error> {
        let open = async {
            let mut held: Vec<Object> = Vec::with_capacity(count);
            for _ in 0..count {
                let client = self.pool.get().await?;
                for sql in STATEMENTS {
                    client.prepare_cached(sql).await?;
                }
                held.push(client);
            }
            Ok::<_, Error>(held)
        };
        let held = tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .map_err(|_| Error::Timeout)??;
        barrier.wait().await;
        drop(held);
        Ok(())
    }

    /// Q1: the user's record, or None when there is no such row.
    pub async fn user(&self, id: u32) -> Result<Option<DbUser>, Error> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(SQL_USER).await?;
        let id = id as i32; // 1..=10000 (parse_id)
        let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
            return Ok(None);
        };
        // try_get, never get: a type mismatch must be a 500, not a panic
        // (which aborts the process: panic = "abort").
        Ok(Some(User {
            id: row.try_get::<_, i32>(0)? as u32,
            name: row.try_get(1)?,
            email: row.try_get(2)?,
            active: row.try_get(3)?,
            created_at: row.try_get(4)?,
            tags: row.try_get(5)?,
            address: Address {
                street: row.try_get(6)?,
                city: row.try_get(7)?,
                postcode: row.try_get(8)?,
                country: row.try_get(9)?,
            },
            bio: row.try_get(10)?,
        }))
    }

    /// Q2: the user's newest `limit` orders.
    pub async fn user_orders(&self, id: u32, limit: u32) -> Result<UserOrders, Error> {
        let client = self.pool.get().await?;
        let stmt = client.prepare_cached(SQL_USER_ORDERS).await?;
        // $1 is an int4 (orders.user_id), $2 LIMIT's int8.
        let rows = client
            .query(&stmt, &[&(id as i32), &i64::from(limit)])
            .await?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in &rows {
            orders.push(OrderSummary {
                id: row.try_get(0)?,
                created_at: row.try_get(1)?,
                status: row.try_get(2)?,
                lines: row.try_get(3)?,
                subtotal_cents: row.try_get(4)?,
            });
        }
        Ok(UserOrders {
            user_id: id,
            orders,
        })
    }

    /// Q3 then Q4 (the items as three arrays: text[], int[], int[]) in one
    /// transaction; returns the new order's id. A transaction dropped before
    /// `commit` (any `?` below) is rolled back by tokio-postgres.
    pub async fn place_order(&self, quote: &Quote<'_>) -> Result<i64, Error> {
        let n = quote.items().len();
        let (mut skus, mut qtys, mut prices) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        // Validation bounds customer_id to 2^31-1, qty to 1000 and the price
        // to 10,000,000: all fit int4.
        for (sku, qty, price) in quote.items() {
            skus.push(sku);
            qtys.push(qty as i32);
            prices.push(price as i32);
        }
        let customer_id = quote.customer_id() as i32;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let insert_order = tx.prepare_cached(SQL_INSERT_ORDER).await?;
        let insert_lines = tx.prepare_cached(SQL_INSERT_LINES).await?;
        let id: i64 = tx
            .query_one(&insert_order, &[&customer_id])
            .await?
            .try_get(0)?;
        tx.execute(&insert_lines, &[&id, &skus, &qtys, &prices])
            .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// Cuts `total` connections into `parts` shares that add up to `total`, the
/// remainder to the first (8 over 3 runtimes: 3, 3, 2; a share may be 0).
pub fn shares(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_the_contracts() {
        // harness/contract/db.go, SQLUserOrders: the one with quotes inside.
        assert!(SQL_USER_ORDERS.starts_with(
            r#"SELECT o.id, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at, o.status, count(*)::int"#
        ));
        assert!(SQL_USER_ORDERS.ends_with("ORDER BY o.created_at DESC, o.id DESC LIMIT $2"));
    }

    #[test]
    fn limit_rules() {
        assert_eq!(parse_limit(""), Ok(10));
        assert_eq!(parse_limit("limit=1"), Ok(1));
        assert_eq!(parse_limit("limit=100"), Ok(100));
        assert_eq!(parse_limit("limit=007"), Ok(7));
        assert_eq!(parse_limit("x=1&limit=5&limit=x"), Ok(5));
        assert_eq!(parse_limit("lim%69t=3"), Ok(3));
        for bad in [
            "limit=0",
            "limit=101",
            "limit=",
            "limit",
            "limit=%2B5",
            "limit=+5",
            "limit=-1",
            "limit=1.5",
            "limit=abc",
            "limit=99999999999999999999",
            "limit=x&limit=5",
        ] {
            assert_eq!(parse_limit(bad), Err("limit"), "{bad:?}");
        }
    }

    #[test]
    fn pool_shares() {
        assert_eq!(shares(8, 1), [8]);
        assert_eq!(shares(8, 2), [4, 4]);
        assert_eq!(shares(8, 3), [3, 3, 2]);
        assert_eq!(shares(2, 4), [1, 1, 0, 0]);
    }
}
