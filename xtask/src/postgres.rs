//! Connecting to Cruddur's PostgreSQL as libpq would, TLS included.
//!
//! The URL's `sslmode` and `sslrootcert` follow libpq (tokio-postgres knows
//! only `disable`, `prefer` and `require`, and no `sslrootcert`), through
//! rustls ([`tokio_postgres_rustls`]):
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | |
//! | `prefer` (the default) | when the server offers it | not checked |
//! | `require` | always | not checked, unless `sslrootcert` is given: then as `verify-ca` |
//! | `verify-ca` | always | signed by `sslrootcert` |
//! | `verify-full` | always | signed by `sslrootcert`, and for the host connected to |
//!
//! RDS for PostgreSQL 15 refuses plain connections (`rds.force_ssl`);
//! `?sslmode=verify-full&sslrootcert=global-bundle.pem` (RDS's CA bundle)
//! is the safe way in.

use std::{path::PathBuf, sync::Arc};

use anyhow::{Context, bail};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::{
        WebPkiServerVerifier,
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    },
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio_postgres::config::SslMode;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Nothing: the connection is encrypted, not authenticated.
    Nothing,
    /// Its chain, up to `sslrootcert`.
    Chain,
    /// Its chain and its name.
    Full,
}

/// A client of `url`, and the task driving its connection.
pub(crate) async fn connect(
    url: &str,
) -> anyhow::Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let (rest, mode, root) = split_tls_options(url)?;
    let mut config: tokio_postgres::Config = rest.parse().context("reading --postgres-url")?;
    let check = match (mode.as_deref().unwrap_or("prefer"), &root) {
        ("disable", _) => {
            config.ssl_mode(SslMode::Disable);
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            return Ok((client, drive(connection)));
        }
        ("prefer", _) => {
            config.ssl_mode(SslMode::Prefer);
            Check::Nothing
        }
        ("require", None) => Check::Nothing,
        ("require" | "verify-ca", Some(_)) => Check::Chain,
        ("verify-full", Some(_)) => Check::Full,
        ("verify-ca" | "verify-full", None) => bail!(
            "sslmode={} needs sslrootcert=<CA bundle> in --postgres-url (for RDS, its global-bundle.pem)",
            mode.unwrap_or_default()
        ),
        (other, _) => {
            bail!("sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full")
        }
    };
    if check != Check::Nothing || mode.as_deref() == Some("require") {
        config.ssl_mode(SslMode::Require);
    }
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(check, root)?);
    let (client, connection) = config.connect(tls).await?;
    Ok((client, drive(connection)))
}

/// The connection's task; its error, if any, shows on the client's calls.
fn drive<C>(connection: C) -> tokio::task::JoinHandle<()>
where
    C: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        let _ = connection.await;
    })
}

/// The URL without `sslmode` and `sslrootcert`, and their values.
fn split_tls_options(url: &str) -> anyhow::Result<(String, Option<String>, Option<PathBuf>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "sslmode" => mode = Some(value.into_owned()),
            "sslrootcert" => root = Some(PathBuf::from(&*value)),
            _ => {
                kept.append_pair(&key, &value);
            }
        }
    }
    let kept = kept.finish();
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{kept}")
    };
    Ok((rest, mode, root))
}

/// The rustls configuration of a check, with `root`'s certificates.
fn client_config(check: Check, root: Option<PathBuf>) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let webpki = match (check, root) {
        (Check::Nothing, _) | (_, None) => None,
        (_, Some(root)) => {
            let mut roots = RootCertStore::empty();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&root)
                .and_then(|certs| certs.collect())
                .with_context(|| format!("reading sslrootcert {}", root.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                bail!("sslrootcert {} holds no certificate", root.display());
            }
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .context("the certificate verifier")?,
            )
        }
    };
    let verifier = ServerCheck {
        check,
        webpki,
        provider: provider.clone(),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// The server's certificate checked as `check` says: not at all
/// (`require`, `prefer`), its chain (`verify-ca`), its chain and its name
/// (`verify-full`). The handshake's signatures are always checked, so the
/// session is the certificate holder's.
#[derive(Debug)]
struct ServerCheck {
    check: Check,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::Chain => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_of_the_url_and_the_rest_kept() {
        let (rest, mode, root) = split_tls_options(
            "postgresql://u:p@db.example:5432/cruddur?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgresql://u:p@db.example:5432/cruddur?application_name=x"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root, Some(PathBuf::from("/tmp/ca.pem")));
        let (rest, mode, root) = split_tls_options("postgresql://u@h/db").unwrap();
        assert_eq!(
            (rest.as_str(), mode, root),
            ("postgresql://u@h/db", None, None)
        );
    }
}
