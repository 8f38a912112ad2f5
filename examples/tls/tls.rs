//! Run with: `cargo run -p graceful-examples-tls --example tls`, then
//! `curl --cacert <the certificate it names> https://localhost:8443/` and Ctrl-C.
//!
//! A server that terminates TLS itself. With `TLS_CERT` and `TLS_KEY` set
//! (PEM files), it serves those; without, it makes a self-signed
//! certificate for `localhost` as it starts and writes it, with its key,
//! into a directory of its own (`TLS_DIR`, default a temporary one), and
//! says where, so that a client can trust it. HTTP/1.1 and HTTP/2 (ALPN)
//! are served, every close says `close_notify`, and the shutdown is the
//! same as without TLS.

use std::convert::Infallible;
use std::path::PathBuf;

use graceful::hyper::{Response, service::service_fn};
use graceful::{App, Request, Server, Tls};

/// The certificate and key to serve: given, or made now.
fn certificate() -> Result<(PathBuf, PathBuf), String> {
    if let (Ok(cert), Ok(key)) = (std::env::var("TLS_CERT"), std::env::var("TLS_KEY")) {
        return Ok((cert.into(), key.into()));
    }
    let dir = std::env::var("TLS_DIR").map_or_else(
        |_| std::env::temp_dir().join(format!("graceful-tls-example-{}", std::process::id())),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert.display()))?;
    std::fs::write(&key, made.signing_key.serialize_pem())
        .map_err(|e| format!("cannot write {}: {e}", key.display()))?;
    eprintln!(
        "made a self-signed certificate for localhost: {}",
        cert.display()
    );
    Ok((cert, key))
}

async fn hello(req: Request) -> Result<Response<String>, Infallible> {
    let version = format!("{:?}", req.version());
    Ok(Response::new(format!("hello over TLS ({version})\n")))
}

fn main() {
    let (cert, key) = match certificate() {
        Ok(files) => files,
        Err(err) => {
            eprintln!("no certificate: {err}");
            std::process::exit(2);
        }
    };
    App::new()
        .server(
            Server::new("api", "127.0.0.1:8443", service_fn(hello))
                .tls(Tls::from_pem_files(cert, key)),
        )
        .run_blocking()
}
