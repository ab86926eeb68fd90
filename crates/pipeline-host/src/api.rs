//! The HTTP API on `[api].address`: `GET /health` answers 200 while the process runs, and
//! `GET /metrics` renders every metric in the Prometheus text format.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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
    /// Listen on `address` and serve `/health` and `/metrics` from `handle`.
    pub async fn start(
        address: SocketAddr,
        handle: PrometheusHandle,
    ) -> Result<ApiServer, ApiError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ApiError { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ApiError { address, source })?;
        tracing::info!(address = %local_addr, "API listening");
        let task = tokio::spawn(accept_loop(listener, handle));
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

async fn accept_loop(listener: TcpListener, handle: PrometheusHandle) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "API accept failed");
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(respond(&request, &handle)) }
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

fn respond(request: &Request<Incoming>, handle: &PrometheusHandle) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/health") => (
            StatusCode::OK,
            "application/json",
            r#"{"ok":true}"#.to_string(),
        ),
        (&Method::GET, "/metrics") => {
            (StatusCode::OK, "text/plain; version=0.0.4", handle.render())
        }
        (_, "/health" | "/metrics") => (
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
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
