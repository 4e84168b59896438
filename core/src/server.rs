//! Starting and stopping the server.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::audit::AuditLog;
use crate::auth::Auth;
use crate::config::Config;
use crate::db::Database;
use crate::fhir::engine::FhirEngine;
use crate::fhir::group_commit::CreateQueue;
use crate::fhir::schema::SchemaValidator;
use crate::http::{router, AppState};
use crate::tenants::Tenants;

/// The process-wide metrics recorder (installing a second one would fail).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .expect("valid buckets")
                .install_recorder()
                .expect("metrics recorder installs once")
        })
        .clone()
}

/// The R4 schema is large to compile; every server in the process shares one.
pub fn shared_schema() -> Arc<SchemaValidator> {
    static SCHEMA: OnceLock<Arc<SchemaValidator>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Arc::new(SchemaValidator::load()))
        .clone()
}

pub async fn app_state(config: Config) -> Result<AppState> {
    let db = Database::open(&config).await?;
    let schema = tokio::task::spawn_blocking(shared_schema).await?;
    let auth = Arc::new(Auth::from_config(&config)?);
    let tenants = Arc::new(Tenants::new(db.clone()));
    let packs = crate::packs::Packs::new(&config, db.clone())?;
    // Before anything is indexed: tenants' pack search parameters are indexed too.
    packs.attach_to_database();
    crate::reindex::ensure_current(&db).await?;
    packs.watch();
    let audit = AuditLog::start(db.clone(), tenants.clone());
    let origin = config
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    if config.packs.events.deliver {
        crate::events::dispatcher::Dispatcher::start(&packs, db.clone(), audit.clone(), origin);
    }
    Ok(AppState {
        packs,
        config: Arc::new(config),
        audit,
        auth,
        tenants,
        creates: CreateQueue::start(db.clone()),
        db,
        engine: FhirEngine::new(schema),
        metrics: metrics_handle(),
    })
}

/// A running server; `shutdown` stops it gracefully.
pub struct RunningServer {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    /// The bootstrap admin's one-time password, when this start created it.
    pub bootstrap_password: Option<String>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.shutdown.send(());
        self.task.await??;
        self.state.packs.shutdown();
        // In-flight requests are done; store the audit records of the last reads.
        self.state.audit.flush().await;
        self.state.db.close().await;
        Ok(())
    }
}

/// Binds and serves in the background (used by `serve`, tests and `bench`).
pub async fn start(config: Config) -> Result<RunningServer> {
    let listener = TcpListener::bind(config.listen).await.with_context(|| {
        format!(
            "cannot listen on {}; is another server using it? Set TESSERA_LISTEN",
            config.listen
        )
    })?;
    let addr = listener.local_addr()?;
    let state = app_state(config).await?;
    if state.config.packs.bundled {
        state
            .packs
            .install_bundled()
            .await
            .map_err(|e| anyhow::anyhow!("installing the bundled packs: {}", e.message()))?;
    }
    let bootstrap_password = if state.config.auth.local_issuer {
        crate::auth::users::LocalUsers::new(state.db.clone())
            .ensure_bootstrap_admin()
            .await
            .map_err(|e| anyhow::anyhow!("creating the bootstrap admin: {e}"))?
    } else {
        None
    };
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Responses go out as soon as they are written rather than waiting on Nagle's
        // algorithm; FHIR clients make many small request/response exchanges.
        let listener = listener.tap_io(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::warn!(error = %err, "cannot set TCP_NODELAY");
            }
        });
        // Connection info gives audit records the client's address.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
    });
    Ok(RunningServer {
        addr,
        state,
        bootstrap_password,
        shutdown: tx,
        task,
    })
}

/// `tessera serve`: runs until SIGINT or SIGTERM, then finishes in-flight requests.
pub async fn serve(config: Config) -> Result<()> {
    let server = start(config).await?;
    if let Some(password) = &server.bootstrap_password {
        // Printed once, to the terminal only (never to the structured log).
        eprintln!(
            "\n  First start: created the local account `{}` (org-admin of every tenant).\n  \
             One-time password: {password}\n  Set your own: curl -d username={} -d password=<one-time> \
             -d new_password=<new> http://{}/auth/local/password\n",
            crate::auth::users::BOOTSTRAP_ADMIN,
            crate::auth::users::BOOTSTRAP_ADMIN,
            server.addr
        );
    }
    tracing::info!(addr = %server.addr, database = server.state.db.backend().name(), "tessera listening");
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
