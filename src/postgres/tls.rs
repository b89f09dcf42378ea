//! TLS for PostgreSQL connections, built lazily: OpenSSL's set-up (loading the system's CA
//! store) costs tens of milliseconds, so it happens only when the server agrees to TLS.
//!
//! The modes that verify the server (`verify-ca`, `verify-full`, and `require` with a root
//! certificate) use native-tls. The modes that only encrypt (`prefer`, `require`) need no CA
//! store at all, yet native-tls always loads the system's (about 90 ms of CPU for Debian's
//! bundle, on every command): they get a bare OpenSSL context instead.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use native_tls::{Certificate, TlsConnector};
use openssl::ssl::{Ssl, SslContext, SslMethod, SslVerifyMode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use super::connect::SslMode;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// How to verify the server, decided from `sslmode` and `sslrootcert`.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl TlsSetup {
    /// Whether the server's certificate is checked (against `sslrootcert` or the system store).
    pub fn verifies(&self) -> bool {
        match self.mode {
            SslMode::Disable | SslMode::Prefer => false,
            SslMode::Require => self.root_cert.is_some(),
            SslMode::VerifyCa | SslMode::VerifyFull => true,
        }
    }

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

/// The connector for `setup`, built once per process: building one loads and parses the
/// system's CA store (tens of milliseconds of CPU), and a command such as `drift` opens ten
/// connections or more.
fn built(setup: &TlsSetup) -> Result<TlsConnector, BoxError> {
    type Built = Vec<(SslMode, Option<PathBuf>, TlsConnector)>;
    static BUILT: std::sync::Mutex<Built> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let same = |(mode, root_cert, _): &&(SslMode, Option<PathBuf>, TlsConnector)| {
        *mode == setup.mode && *root_cert == setup.root_cert
    };
    if let Some((_, _, connector)) = built.iter().find(same) {
        return Ok(connector.clone());
    }
    let connector = setup.build()?;
    built.push((setup.mode, setup.root_cert.clone(), connector.clone()));
    Ok(connector)
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
    type Stream = TlsStream<S>;
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
    type Stream = TlsStream<S>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, BoxError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            if !self.setup.verifies() {
                return Ok(TlsStream::Unverified(
                    encrypt_only(stream, &self.domain).await?,
                ));
            }
            let connector = built(&self.setup)?;
            let tls = postgres_native_tls::TlsConnector::new(connector, &self.domain);
            Ok(TlsStream::Verified(TlsConnect::connect(tls, stream).await?))
        })
    }
}

/// TLS without certificate checks (libpq's `prefer`/`require`): an OpenSSL context without a
/// CA store, so nothing is loaded from disk.
async fn encrypt_only<S>(stream: S, domain: &str) -> Result<tokio_openssl::SslStream<S>, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut context = SslContext::builder(SslMethod::tls_client())?;
    context.set_verify(SslVerifyMode::NONE);
    let mut ssl = Ssl::new(&context.build())?;
    // Server name indication, as libpq sends it (never for an IP address).
    if !domain.is_empty() && domain.parse::<std::net::IpAddr>().is_err() {
        ssl.set_hostname(domain)?;
    }
    let mut stream = tokio_openssl::SslStream::new(ssl, stream)?;
    Pin::new(&mut stream).connect().await?;
    Ok(stream)
}

/// `tls-server-end-point` channel binding data (RFC 5929): the hash of the server's
/// certificate, with the certificate's own signature digest (SHA-256 for MD5 and SHA-1).
fn server_end_point(ssl: &openssl::ssl::SslRef) -> Option<Vec<u8>> {
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    let certificate = ssl.peer_certificate()?;
    let algorithms = certificate
        .signature_algorithm()
        .object()
        .nid()
        .signature_algorithms()?;
    let digest = match algorithms.digest {
        Nid::MD5 | Nid::SHA1 => MessageDigest::sha256(),
        nid => MessageDigest::from_nid(nid)?,
    };
    certificate.digest(digest).ok().map(|bytes| bytes.to_vec())
}

/// The encrypted stream: verified by native-tls, or encrypted only by OpenSSL directly.
pub enum TlsStream<S> {
    Verified(postgres_native_tls::TlsStream<S>),
    Unverified(tokio_openssl::SslStream<S>),
}

impl<S> AsyncRead for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsStream::Verified(stream) => Pin::new(stream).poll_read(cx, buf),
            TlsStream::Unverified(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl<S> AsyncWrite for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TlsStream::Verified(stream) => Pin::new(stream).poll_write(cx, buf),
            TlsStream::Unverified(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsStream::Verified(stream) => Pin::new(stream).poll_flush(cx),
            TlsStream::Unverified(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsStream::Verified(stream) => Pin::new(stream).poll_shutdown(cx),
            TlsStream::Unverified(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}

impl<S> tokio_postgres::tls::TlsStream for TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> ChannelBinding {
        match self {
            TlsStream::Verified(stream) => stream.channel_binding(),
            TlsStream::Unverified(stream) => match server_end_point(stream.ssl()) {
                Some(hash) => ChannelBinding::tls_server_end_point(hash),
                None => ChannelBinding::none(),
            },
        }
    }
}
