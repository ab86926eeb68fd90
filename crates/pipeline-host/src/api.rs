//! The HTTP API on `[api].address`: `GET /health` reports the [`HealthBoard`] (200 while
//! serving, 503 otherwise), `GET /metrics` renders every metric in the Prometheus text format,
//! and the binary may add pages of its own ([`Api::page`], e.g. a dashboard).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use metrics_exporter_prometheus::PrometheusHandle;
use pipeline_core::log_limit::LogLimiter;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::health::HealthBoard;

/// Renders a page's body on each request.
type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// What the API serves: the metrics, the health board, and any pages added.
#[derive(Clone)]
pub struct Api {
    metrics: PrometheusHandle,
    health: HealthBoard,
    pages: Vec<(&'static str, &'static str, Render)>,
}

impl Api {
    /// `/metrics` from `metrics`, `/health` from `health`.
    pub fn new(metrics: PrometheusHandle, health: HealthBoard) -> Api {
        Api {
            metrics,
            health,
            pages: Vec::new(),
        }
    }

    /// Also serve `GET path` with `content_type`, its body made by `render` on each request.
    pub fn page(
        mut self,
        path: &'static str,
        content_type: &'static str,
        render: impl Fn() -> String + Send + Sync + 'static,
    ) -> Api {
        self.pages.push((path, content_type, Arc::new(render)));
        self
    }
}

/// The API could not listen on its address.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on api.address {address}: {source}")]
pub struct ApiError {
    /// The configured address.
    pub address: SocketAddr,
    /// The cause.
    pub source: std::io::Error,
}

/// A running API server; dropping it does not stop it, [`ApiServer::stop`] does.
#[derive(Debug)]
pub struct ApiServer {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Listen on `address` and serve `api`.
    pub async fn start(address: SocketAddr, api: Api) -> Result<ApiServer, ApiError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ApiError { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ApiError { address, source })?;
        tracing::info!(address = %local_addr, "API listening");
        let task = tokio::spawn(accept_loop(listener, Arc::new(api)));
        Ok(ApiServer { local_addr, task })
    }

    /// The address actually bound (useful when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting and serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, api: Arc<Api>) {
    let logs = LogLimiter::default();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // E.g. out of file descriptors: fails again at once, so wait a little and say
                // so once per interval.
                logs.log(
                    &"API accept failed",
                    std::time::Instant::now(),
                    |repeated| {
                        if let Some(repeated) = repeated {
                            tracing::warn!(repeated = repeated.count, "{repeated}");
                        }
                        tracing::warn!(%error, "API accept failed");
                    },
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(respond(&request, &api)) }
            });
            let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "API connection ended with an error");
            }
        });
    }
}

fn respond(request: &Request<Incoming>, api: &Api) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let page = api.pages.iter().find(|(at, _, _)| *at == path);
    let known = page.is_some() || path == "/health" || path == "/metrics";
    let (status, content_type, body) = match (request.method(), path, page) {
        (&Method::GET, _, Some((_, content_type, render))) => {
            (StatusCode::OK, *content_type, render())
        }
        (&Method::GET, "/health", _) => health(&api.health),
        (&Method::GET, "/metrics", _) => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            api.metrics.render(),
        ),
        _ if known => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `/health`: the board's report, 200 while serving and 503 otherwise.
fn health(board: &HealthBoard) -> (StatusCode, &'static str, String) {
    let report = board.report();
    let status = if report.serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string(&report)
        .unwrap_or_else(|error| format!(r#"{{"status":"failed","error":"{error}"}}"#));
    (status, "application/json", body + "\n")
}
