//! axum reference target: the contract of targets/README.md.
//!
//! Environment: PORT (required), HOST (default 127.0.0.1), VCPUS (threads;
//! default: the CPUs this process may use), AXUM_RUNTIME = per-core | multi
//! (default per-core; see README.md for the measurement behind the default),
//! GC_LIVE_OBJECTS (records of the live heap; unset or 0: none).

mod compute;
mod gc;
mod quote;
mod users;

use std::net::{SocketAddr, ToSocketAddrs};
use std::{env, io, process, thread};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use gc::LiveHeap;
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

/// Takes the raw body: axum's `Json` extractor would answer a plain-text
/// rejection, and the contract fixes both the 400 and the 422 bodies.
async fn order_quote(body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        Err(_) => return error(StatusCode::BAD_REQUEST, "invalid json"),
    };
    let Ok(order) = serde_json::from_slice::<quote::Order>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid json");
    };
    match quote::price(&order) {
        Ok(q) => json(StatusCode::OK, &q, 256),
        Err(field) => json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ErrorBody {
                error: "validation failed",
                field: Some(&field),
            },
            64,
        ),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

fn app(store: &'static Store, heap: &'static LiveHeap) -> Router {
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
        .fallback(not_found)
        .with_state(store)
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
    Config {
        addr,
        vcpus,
        mode,
        live_objects,
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
    let app = app(store, heap);

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
            for (i, l) in listeners.into_iter().enumerate() {
                let app = app.clone();
                thread::Builder::new()
                    .name(format!("axum-{i}"))
                    .spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap_or_else(|e| fail(e))
                            .block_on(serve(l, app));
                    })
                    .unwrap_or_else(|e| fail(e));
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
