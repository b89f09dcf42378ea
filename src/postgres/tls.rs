//! TLS for PostgreSQL connections, built lazily: OpenSSL's set-up (loading the system's CA
//! store) costs tens of milliseconds, so it happens only when the server agrees to TLS.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use native_tls::{Certificate, TlsConnector};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use super::connect::SslMode;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// How to verify the server, decided from `sslmode` and `sslrootcert`.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl TlsSetup {
    /// Builds the native-tls connector (the expensive part).
    pub fn build(&self) -> Result<TlsConnector, BoxError> {
        let mut builder = TlsConnector::builder();
        match self.mode {
            // As libpq: `prefer`/`require` encrypt without verifying, unless a root certificate
            // was given, in which case `require` verifies the chain like `verify-ca`.
            SslMode::Disable | SslMode::Prefer => {
                builder.danger_accept_invalid_certs(true);
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::Require if self.root_cert.is_none() => {
                builder.danger_accept_invalid_certs(true);
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::Require | SslMode::VerifyCa => {
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::VerifyFull => {}
        }
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(path)
                .map_err(|err| format!("cannot read sslrootcert {}: {err}", path.display()))?;
            let cert = Certificate::from_pem(&pem).map_err(|err| {
                format!(
                    "sslrootcert {} is not a PEM certificate: {err}",
                    path.display()
                )
            })?;
            builder.add_root_certificate(cert);
        }
        Ok(builder.build()?)
    }
}

/// A `MakeTlsConnect` that defers building the connector to the TLS handshake itself.
#[derive(Debug, Clone)]
pub struct LazyTls {
    setup: TlsSetup,
}

impl LazyTls {
    pub fn new(setup: TlsSetup) -> LazyTls {
        LazyTls { setup }
    }
}

impl<S> MakeTlsConnect<S> for LazyTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type TlsConnect = LazyTlsConnect;
    type Error = BoxError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyTlsConnect, BoxError> {
        Ok(LazyTlsConnect {
            setup: self.setup.clone(),
            domain: domain.to_string(),
        })
    }
}

pub struct LazyTlsConnect {
    setup: TlsSetup,
    domain: String,
}

impl<S> TlsConnect<S> for LazyTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, BoxError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = self.setup.build()?;
            let tls = postgres_native_tls::TlsConnector::new(connector, &self.domain);
            Ok(TlsConnect::connect(tls, stream).await?)
        })
    }
}
