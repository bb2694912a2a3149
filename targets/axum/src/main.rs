//! axum reference target: the contract of targets/README.md.
//!
//! Environment: PORT (required), HOST (default 127.0.0.1), VCPUS (threads;
//! default: the CPUs this process may use), AXUM_RUNTIME = per-core | multi
//! (default per-core; see README.md for the measurement behind the default),
//! GC_LIVE_OBJECTS (records of the live heap; unset or 0: none),
//! DATABASE_URL and DB_POOL (the database endpoints' PostgreSQL and pool
//! size; without DATABASE_URL the /db/ routes answer 503).

mod compute;
mod db;
mod gc;
mod quote;
mod users;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::{env, io, process, thread};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use db::Db;
use gc::LiveHeap;
use tokio::sync::Barrier;
use users::Store;

// ---------------------------------------------------------------------------
// Handlers

/// Serialises `value` with serde_json into a buffer of `capacity` bytes
/// (sized so the usual answer needs no reallocation) and answers it as JSON.
fn json<T: Serialize>(status: StatusCode, value: &T, capacity: usize) -> Response {
    let mut buf = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buf, value) {
        Ok(()) => {
            let mut res = Response::new(Body::from(buf));
            *res.status_mut() = status;
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

fn error(status: StatusCode, error: &'static str) -> Response {
    json(status, &ErrorBody { error, field: None }, 32)
}

async fn health() -> Response {
    json(StatusCode::OK, &Status { status: "ok" }, 16)
}

/// The TechEmpower JSON test: an object serialised per request.
async fn hello() -> Response {
    json(
        StatusCode::OK,
        &Message {
            message: "Hello, World!",
        },
        32,
    )
}

async fn user(
    State(store): State<&'static Store>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    // A segment axum cannot decode (bad percent-encoding) is a 404 too.
    match id.ok().as_deref().and_then(|id| store.lookup(id)) {
        Some(user) => json(StatusCode::OK, user, 384),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The compute kernel (compute.rs): a few milliseconds of CPU, run inline on
/// the connection's runtime like every other handler (no spawn_blocking).
async fn compute_rank(State(store): State<&'static Store>, uri: Uri) -> Response {
    match compute::Params::parse(uri.query().unwrap_or("")) {
        Ok(p) => {
            let ranking = compute::rank(store, p);
            json(StatusCode::OK, &ranking, ranking.json_capacity())
        }
        Err(field) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ErrorBody {
                error: "validation failed",
                field: Some(field),
            },
            64,
        ),
    }
}

/// The GC load's allocation per request (gc.rs): n fresh structs, serialised
/// and dropped.
async fn gc_churn(uri: Uri) -> Response {
    match gc::Params::parse(uri.query().unwrap_or("")) {
        Ok(p) => {
            let churn = gc::churn(p);
            json(StatusCode::OK, &churn, churn.json_capacity())
        }
        Err(field) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ErrorBody {
                error: "validation failed",
                field: Some(field),
            },
            64,
        ),
    }
}

/// Largest quote body accepted; the largest valid order is about 15 KB.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Decodes a quote body (POST /orders/quote and POST /db/orders; validation
/// is `quote::price`'s), or the status and error of the 413/400 answer.
/// Takes the raw body: axum's `Json` extractor would answer a plain-text
/// rejection, and the contract fixes both the 400 and the 422 bodies.
fn order_of(
    body: &Result<Bytes, BytesRejection>,
) -> Result<quote::Order<'_>, (StatusCode, &'static str)> {
    match body {
        Ok(body) => {
            serde_json::from_slice(body).map_err(|_| (StatusCode::BAD_REQUEST, "invalid json"))
        }
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large"))
        }
        Err(_) => Err((StatusCode::BAD_REQUEST, "invalid json")),
    }
}

fn invalid(field: &str) -> Response {
    json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &ErrorBody {
            error: "validation failed",
            field: Some(field),
        },
        64,
    )
}

async fn order_quote(body: Result<Bytes, BytesRejection>) -> Response {
    let order = match order_of(&body) {
        Ok(order) => order,
        Err((status, e)) => return error(status, e),
    };
    match quote::price(&order) {
        Ok(q) => json(StatusCode::OK, &q, 256),
        Err(field) => invalid(&field),
    }
}

// ---------------------------------------------------------------------------
// Database endpoints (db.rs). The checks that need no database come first (a
// bad id → 404 without a query, limit → 422, the quote's 400/422), so they
// answer the same with or without one; a valid request without a database is
// a 503. A database error is a 500 and one line on stderr (nothing is logged
// in the happy path).

fn no_database() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "no database")
}

fn db_failed(what: &str, e: db::Error) -> Response {
    eprintln!("axum-target: database: {what}: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "database")
}

async fn db_user(
    State(db): State<Option<&'static Db>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(id) = id.ok().as_deref().and_then(|id| users::parse_id(id)) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let Some(db) = db else {
        return no_database();
    };
    match db.user(id).await {
        Ok(Some(user)) => json(StatusCode::OK, &user, 384),
        Ok(None) => error(StatusCode::NOT_FOUND, "not found"),
        Err(e) => db_failed("user", e),
    }
}

async fn db_user_orders(
    State(db): State<Option<&'static Db>>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let Some(id) = id.ok().as_deref().and_then(|id| users::parse_id(id)) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let limit = match db::parse_limit(uri.query().unwrap_or("")) {
        Ok(limit) => limit,
        Err(field) => return invalid(field),
    };
    let Some(db) = db else {
        return no_database();
    };
    match db.user_orders(id, limit).await {
        Ok(orders) => json(StatusCode::OK, &orders, orders.json_capacity()),
        Err(e) => db_failed("user orders", e),
    }
}

async fn db_place_order(
    State(db): State<Option<&'static Db>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let order = match order_of(&body) {
        Ok(order) => order,
        Err((status, e)) => return error(status, e),
    };
    let quote = match quote::price(&order) {
        Ok(q) => q,
        Err(field) => return invalid(&field),
    };
    let Some(db) = db else {
        return no_database();
    };
    match db.place_order(&quote).await {
        Ok(order_id) => json(StatusCode::OK, &db::Placed { order_id, quote }, 288),
        Err(e) => db_failed("place order", e),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

/// What the handlers reach: all `&'static` (Copy), so extracting it per
/// request touches no reference count. The store's handlers take
/// `State<&'static Store>`, the database's `State<Option<&'static Db>>`
/// (None without DATABASE_URL).
#[derive(Clone, Copy)]
struct AppState {
    store: &'static Store,
    db: Option<&'static Db>,
}

impl FromRef<AppState> for &'static Store {
    fn from_ref(state: &AppState) -> Self {
        state.store
    }
}

impl FromRef<AppState> for Option<&'static Db> {
    fn from_ref(state: &AppState) -> Self {
        state.db
    }
}

fn app(store: &'static Store, heap: &'static LiveHeap, db: Option<&'static Db>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/json", get(hello))
        .route("/users/{id}", get(user))
        .route("/compute/rank", get(compute_rank))
        .route("/gc/churn", get(gc_churn))
        .route(
            "/gc/stats",
            get(move || async move { json(StatusCode::OK, &gc::stats(heap), 256) }),
        )
        // No collector, so nothing to reset; the contract's 204 all the same.
        .route("/gc/reset", post(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/orders/quote",
            post(order_quote).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/db/users/{id}", get(db_user))
        .route("/db/users/{id}/orders", get(db_user_orders))
        .route(
            "/db/orders",
            post(db_place_order).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .fallback(not_found)
        .with_state(AppState { store, db })
}

// ---------------------------------------------------------------------------
// Process set-up

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// One current-thread runtime per vCPU, each with its own SO_REUSEPORT
    /// listener (TechEmpower's axum layout): no work stealing, no cross-thread
    /// wake-ups; the kernel spreads connections over the listeners.
    PerCore,
    /// One multi-thread (work-stealing) runtime with VCPUS workers sharing
    /// one listener: tokio's default layout.
    Multi,
}

struct Config {
    addr: SocketAddr,
    vcpus: usize,
    mode: Mode,
    live_objects: usize,
    /// DATABASE_URL and DB_POOL, when there is a database.
    database: Option<(String, usize)>,
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("axum-target: {msg}");
    process::exit(1)
}

fn config() -> Config {
    let port: u16 = match env::var("PORT") {
        Ok(p) => p
            .trim()
            .parse()
            .unwrap_or_else(|_| fail(format!("PORT={p:?} is not a port"))),
        Err(_) => fail("PORT is not set"),
    };
    let host = env::var("HOST").ok().filter(|h| !h.is_empty());
    let host = host.as_deref().unwrap_or("127.0.0.1");
    // Bracketed IPv6 ("[::1]") is accepted as well as the bare form.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (bare, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| fail(format!("HOST={host:?} does not resolve")));
    let vcpus = match env::var("VCPUS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => fail(format!("VCPUS={v:?} is not a whole number >= 1")),
        },
        Err(_) => thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mode = match env::var("AXUM_RUNTIME").as_deref() {
        Err(_) | Ok("") | Ok("per-core") => Mode::PerCore,
        Ok("multi") => Mode::Multi,
        Ok(other) => fail(format!("AXUM_RUNTIME={other:?}: want per-core or multi")),
    };
    let live_objects = match env::var("GC_LIVE_OBJECTS") {
        Ok(v) if !v.is_empty() => v
            .trim()
            .parse::<usize>()
            .unwrap_or_else(|_| fail(format!("GC_LIVE_OBJECTS={v:?} is not a whole number"))),
        _ => 0,
    };
    // DB_POOL is required with a database: the harness gives every target
    // the same size, and a silent default would make the pools differ.
    let database = match env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let pool = env::var("DB_POOL").unwrap_or_default();
            match pool.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Some((url, n)),
                _ => fail(format!("DB_POOL={pool:?} is not a whole number >= 1")),
            }
        }
        _ => None,
    };
    Config {
        addr,
        vcpus,
        mode,
        live_objects,
        database,
    }
}

/// A non-blocking listening socket; `reuse_port` lets several of them share
/// the address (Linux then load-balances new connections between them).
fn listener(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

async fn serve(listener: std::net::TcpListener, app: Router) {
    let listener = tokio::net::TcpListener::from_std(listener)
        .unwrap_or_else(|e| fail(format!("listener: {e}")))
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app).await.unwrap_or_else(|e| fail(e));
}

/// Opens this runtime's share of the pool's connections before it serves, so
/// no request waits for a connect; a database that cannot be reached ends
/// the process with one line.
async fn warm_db(db: Option<&'static Db>, share: usize, barrier: &Barrier) {
    if let Some(db) = db {
        if let Err(e) = db.warm(share, barrier).await {
            fail(format!("database: {e}"));
        }
    }
}

/// Exits on SIGTERM or SIGINT. Nothing is stored, so there is nothing to
/// drain; this also makes the server stop promptly as PID 1 in a container.
async fn exit_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).unwrap_or_else(|e| fail(e));
    let mut int = signal(SignalKind::interrupt()).unwrap_or_else(|e| fail(e));
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    process::exit(0);
}

fn main() {
    let cfg = config();
    // Built once and never freed: handlers get a plain `&'static` (no
    // reference count touched per request, nothing shared is written).
    let store: &'static Store = Box::leak(Box::new(Store::generate()));
    // Likewise held until the process exits, built before any listener
    // binds so the first /health answer comes with the whole heap.
    let heap: &'static LiveHeap = Box::leak(Box::new(LiveHeap::build(cfg.live_objects)));
    // The pool of DB_POOL connections, shared by every runtime and leaked
    // like the store; its connections are opened by `warm_db` on the
    // runtimes before they serve.
    let db: Option<&'static Db> = cfg.database.as_ref().map(|(url, size)| {
        let db = Db::new(url, *size).unwrap_or_else(|e| fail(format!("database: {e}")));
        &*Box::leak(Box::new(db))
    });
    let app = app(store, heap, db);
    // The connections each runtime opens: DB_POOL split over the per-core
    // runtimes, all of it on the one multi-thread runtime.
    let parts = if cfg.mode == Mode::PerCore {
        cfg.vcpus
    } else {
        1
    };
    let shares = db::shares(cfg.database.as_ref().map_or(0, |(_, size)| *size), parts);
    let barrier = Arc::new(Barrier::new(parts));

    match cfg.mode {
        Mode::PerCore => {
            // SO_REUSEPORT would let this server silently share a port that
            // another process (of the same user) already listens on. A plain
            // bind first fails on a port in use; it is closed before the
            // reuse-port group binds.
            drop(
                listener(cfg.addr, false)
                    .unwrap_or_else(|e| fail(format!("bind {}: {e}", cfg.addr))),
            );
            // Bind every listener before starting any thread, so a bad
            // address fails the process at once.
            let listeners: Vec<_> = (0..cfg.vcpus)
                .map(|_| {
                    listener(cfg.addr, true)
                        .unwrap_or_else(|e| fail(format!("bind {}: {e}", cfg.addr)))
                })
                .collect();
            // Each runtime reports when its share of the database pool is
            // open, so "listening" is printed only once all of it is (and
            // never before a start-up error).
            let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
            for (i, l) in listeners.into_iter().enumerate() {
                let app = app.clone();
                let (share, barrier, ready_tx) = (shares[i], barrier.clone(), ready_tx.clone());
                thread::Builder::new()
                    .name(format!("axum-{i}"))
                    .spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap_or_else(|e| fail(e))
                            .block_on(async move {
                                warm_db(db, share, &barrier).await;
                                let _ = ready_tx.send(());
                                serve(l, app).await
                            });
                    })
                    .unwrap_or_else(|e| fail(e));
            }
            for _ in 0..cfg.vcpus {
                let _ = ready.recv();
            }
            eprintln!(
                "axum-target: listening on {} ({} per-core runtimes)",
                cfg.addr, cfg.vcpus
            );
            tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap_or_else(|e| fail(e))
                .block_on(exit_on_signal());
        }
        Mode::Multi => {
            let l = listener(cfg.addr, false)
                .unwrap_or_else(|e| fail(format!("bind {}: {e}", cfg.addr)));
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cfg.vcpus)
                .enable_all()
                .build()
                .unwrap_or_else(|e| fail(e));
            // Connections opened here run on the workers (deadpool spawns
            // each connection's task on the current runtime).
            rt.block_on(warm_db(db, shares[0], &barrier));
            eprintln!(
                "axum-target: listening on {} (multi-thread runtime, {} workers)",
                cfg.addr, cfg.vcpus
            );
            // The accept loop is a task on the workers too; the main thread
            // only waits for a signal.
            rt.spawn(serve(l, app));
            rt.block_on(exit_on_signal());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// Without DATABASE_URL a valid /db/ request is a 503; the checks that
    /// need no database answer as they would with one. The answers from a
    /// database are checked against a seeded PostgreSQL (README.md,
    /// "Database endpoints").
    #[tokio::test]
    async fn db_routes_without_database() {
        let store: &'static Store = Box::leak(Box::new(Store::generate()));
        let heap: &'static LiveHeap = Box::leak(Box::new(LiveHeap::build(0)));
        let app = app(store, heap, None);
        let no_db = r#"{"error":"no database"}"#;
        let not_found = r#"{"error":"not found"}"#;
        let bad_limit = r#"{"error":"validation failed","field":"limit"}"#;
        let order =
            r#"{"customer_id":1002,"items":[{"sku":"SKU-3003","qty":1,"unit_price_cents":273}]}"#;
        let cases = [
            ("GET", "/db/users/7", "", 503, no_db),
            ("GET", "/db/users/10000", "", 503, no_db),
            ("GET", "/db/users/0", "", 404, not_found),
            ("GET", "/db/users/10001", "", 404, not_found),
            ("GET", "/db/users/%2B7", "", 404, not_found),
            ("GET", "/db/users/abc", "", 404, not_found),
            ("GET", "/db/users/7/orders", "", 503, no_db),
            ("GET", "/db/users/7/orders?limit=1", "", 503, no_db),
            ("GET", "/db/users/7/orders?limit=100", "", 503, no_db),
            ("GET", "/db/users/7/orders?limit=007", "", 503, no_db),
            ("GET", "/db/users/7/orders?limit=0", "", 422, bad_limit),
            ("GET", "/db/users/7/orders?limit=101", "", 422, bad_limit),
            ("GET", "/db/users/7/orders?limit=", "", 422, bad_limit),
            ("GET", "/db/users/7/orders?limit=%2B5", "", 422, bad_limit),
            ("GET", "/db/users/7/orders?limit=-1", "", 422, bad_limit),
            (
                "GET",
                "/db/users/7/orders?limit=x&limit=5",
                "",
                422,
                bad_limit,
            ),
            ("GET", "/db/users/0/orders?limit=0", "", 404, not_found),
            ("GET", "/db/users/x/orders", "", 404, not_found),
            ("POST", "/db/orders", order, 503, no_db),
            (
                "POST",
                "/db/orders",
                r#"{"customer_id":0,"items":[]}"#,
                422,
                r#"{"error":"validation failed","field":"customer_id"}"#,
            ),
            (
                "POST",
                "/db/orders",
                r#"{"customer_id":7,"items":[{"sku":"","qty":1,"unit_price_cents":1}]}"#,
                422,
                r#"{"error":"validation failed","field":"items[0].sku"}"#,
            ),
            (
                "POST",
                "/db/orders",
                r#"{"customer_id":"#,
                400,
                r#"{"error":"invalid json"}"#,
            ),
        ];
        for (method, uri, body, status, want) in cases {
            let (got_status, got) = call(&app, method, uri, body).await;
            assert_eq!(
                (got_status.as_u16(), got.as_str()),
                (status, want),
                "{method} {uri}"
            );
        }
    }
}
