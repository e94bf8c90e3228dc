//! TLS for `https`/`wss` endpoints: a dialed stream, wrapped in rustls when the endpoint is
//! secure.
//!
//! The roots are the system's (rustls-native-certs, as async-nats uses), loaded once per
//! session on first use; the crypto provider is ring, which async-nats already builds. Tests
//! and the simulator use plain http and never reach this code: a build without the `tls`
//! feature (the simulator's) has no rustls at all and refuses secure endpoints with an
//! error that says so.

use std::io;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
#[cfg(feature = "tls")]
use tokio_rustls::rustls::pki_types::ServerName;
#[cfg(feature = "tls")]
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
#[cfg(feature = "tls")]
use tokio_rustls::TlsConnector;

use super::error::CytubeError;
use super::url::Endpoint;

/// A stream that is either plain or TLS over the same dialed stream.
#[derive(Debug)]
pub enum MaybeTls<S> {
    Plain(S),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<S>>),
}

/// The session's TLS client configuration, built on first use and shared by its attempts.
#[derive(Clone, Default)]
pub(crate) struct Tls {
    #[cfg(feature = "tls")]
    connector: Arc<OnceLock<TlsConnector>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "tls")]
        return f.debug_struct("Tls").field("loaded", &self.connector.get().is_some()).finish();
        #[cfg(not(feature = "tls"))]
        f.write_str("Tls(not built)")
    }
}

impl Tls {
    /// Wraps `stream` in TLS when `endpoint` is secure.
    pub(crate) async fn wrap<S>(&self, stream: S, endpoint: &Endpoint) -> Result<MaybeTls<S>, CytubeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if !endpoint.secure {
            return Ok(MaybeTls::Plain(stream));
        }
        self.secure(stream, endpoint).await
    }

    /// Without the `tls` feature (the simulator's build) there is no TLS.
    #[cfg(not(feature = "tls"))]
    async fn secure<S>(&self, _stream: S, endpoint: &Endpoint) -> Result<MaybeTls<S>, CytubeError> {
        let source = io::Error::new(
            io::ErrorKind::Unsupported,
            "this build has no TLS (built without the `tls` feature): use an http:// channel, or the rosey binary",
        );
        Err(CytubeError::Tls { host: endpoint.host.clone(), source })
    }
}

#[cfg(feature = "tls")]
impl Tls {
    /// The TLS handshake with the system's roots, over the dialed stream.
    async fn secure<S>(&self, stream: S, endpoint: &Endpoint) -> Result<MaybeTls<S>, CytubeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let tls_error = |source: io::Error| CytubeError::Tls { host: endpoint.host.clone(), source };
        let connector = self.connector().map_err(tls_error)?;
        let name = ServerName::try_from(endpoint.host.clone())
            .map_err(|err| tls_error(io::Error::new(io::ErrorKind::InvalidInput, err)))?;
        let stream = connector.connect(name, stream).await.map_err(tls_error)?;
        Ok(MaybeTls::Tls(Box::new(stream)))
    }

    fn connector(&self) -> io::Result<TlsConnector> {
        if let Some(connector) = self.connector.get() {
            return Ok(connector.clone());
        }
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            let detail = loaded.errors.first().map(|err| format!(": {err}")).unwrap_or_default();
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no system root certificates{detail}")));
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = TlsConnector::from(Arc::new(config));
        Ok(self.connector.get_or_init(|| connector).clone())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
