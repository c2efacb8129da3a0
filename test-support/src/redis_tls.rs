//! The certificates of a TLS-only test server, made when it starts.
//!
//! A test of `rediss://` should trust its server the way a deployment does, through a
//! certificate authority, not by switching verification off: a client that skips
//! verification passes against any server, so such a test proves little. Each server
//! gets a fresh authority and a certificate for `127.0.0.1` and `localhost` signed by
//! it, written into the server's own folder and removed with it; nothing is kept
//! between tests, and no file of the repository holds a key.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::redis::ServerError;

/// Where the PEM files of one TLS server are.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    /// The authority's certificate: what a client trusts.
    pub(crate) authority: PathBuf,
    /// The server's certificate, signed by the authority.
    pub(crate) certificate: PathBuf,
    /// The server certificate's private key.
    pub(crate) key: PathBuf,
}

/// Makes an authority and a server certificate for the loopback address and writes
/// them, as PEM, into `dir`.
pub(crate) fn write_certificates(dir: &Path) -> Result<TlsFiles, ServerError> {
    let generated = |source: rcgen::Error| ServerError::Certificates {
        reason: source.to_string(),
    };
    let authority_key = KeyPair::generate().map_err(generated)?;
    let mut authority_params = CertificateParams::new(Vec::<String>::new()).map_err(generated)?;
    authority_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    authority_params
        .distinguished_name
        .push(DnType::CommonName, "mp test authority");
    authority_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let authority = authority_params
        .self_signed(&authority_key)
        .map_err(generated)?;
    let issuer = Issuer::new(authority_params, authority_key);

    let server_key = KeyPair::generate().map_err(generated)?;
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(generated)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server = server_params
        .signed_by(&server_key, &issuer)
        .map_err(generated)?;

    let files = TlsFiles {
        authority: dir.join("authority.pem"),
        certificate: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
    };
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(ServerError::io("writing redis-server's certificates"))
    };
    write(&files.authority, authority.pem())?;
    write(&files.certificate, server.pem())?;
    write(&files.key, server_key.serialize_pem())?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_files_are_pem() {
        let dir = std::env::temp_dir().join(format!("mp-test-tls-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let files = write_certificates(&dir).expect("certificates");
        let read = |path: &Path| std::fs::read_to_string(path).expect("a written file");
        assert!(read(&files.authority).starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(read(&files.certificate).starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(read(&files.key).starts_with("-----BEGIN PRIVATE KEY-----"));
        std::fs::remove_dir_all(&dir).expect("removed");
    }
}
