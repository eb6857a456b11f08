//! HTTP(S) for the TUF client: metadata through core's [`Transport`] and
//! target files streamed through a [`TargetVerifier`].
//!
//! Every read is capped: metadata at the length the caller allows
//! ([`TransportError::TooLarge`] past it), a target at its signed length. A
//! server that sends endless data is read at most one byte past the limit
//! and then dropped. `404` (and `403`, which some object stores send for a
//! missing file) means "not there"; any other status outside 2xx is an
//! error. Names are percent-encoded, so any role name can be fetched.

use airlock_core::client::{Transport, TransportError};
use airlock_core::metadata::TargetFile;
use airlock_core::target::{TargetError, TargetVerifier};
use std::io::{self, Read, Write};
use std::time::Duration;

/// How long to wait for a connection and for response headers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one metadata request may take in all.
const METADATA_TIMEOUT: Duration = Duration::from_secs(300);

/// Percent-encodes `s` byte by byte: ASCII letters, digits and `-._~` stay,
/// as do the bytes in `keep`; everything else becomes `%XX` (uppercase, as
/// Python's `urllib.parse.quote`).
pub fn quote(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`quote`]; `None` if an escape is malformed or the result is
/// not UTF-8.
pub fn unquote(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `url` with exactly one trailing `/` added if it has none.
pub fn with_trailing_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

/// A blocking HTTP client shared by metadata and target requests.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

/// A response body with what the server said of its length.
struct Body {
    declared_len: Option<u64>,
    reader: Box<dyn Read>,
}

impl Http {
    /// A client with connection and header timeouts; statuses are handled here.
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(CONNECT_TIMEOUT))
            .user_agent(concat!("airlock-tuf-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Http { agent }
    }

    /// GETs `url`: `Ok(None)` for 404 or 403.
    fn get(&self, url: &str, timeout: Option<Duration>) -> Result<Option<Body>, TransportError> {
        let request = self.agent.get(url).config().timeout_global(timeout).build();
        let response = request.call().map_err(|e| TransportError::Io(format!("GET {url}: {e}")))?;
        let status = response.status().as_u16();
        if status == 404 || status == 403 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(TransportError::Io(format!("GET {url}: HTTP status {status}")));
        }
        let declared_len = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let reader = Box::new(response.into_body().into_reader());
        Ok(Some(Body { declared_len, reader }))
    }

    /// Downloads the target at `url`, checking it against its signed
    /// description `file` while it streams into `dest`. Stops as soon as
    /// the signed length is exceeded. Nothing written to `dest` may be used
    /// unless this returns `Ok`.
    pub fn download_target(
        &self,
        url: &str,
        file: &TargetFile,
        dest: &mut dyn Write,
    ) -> Result<(), DownloadError> {
        // Refuse early what we could not verify anyway.
        let verifier = TargetVerifier::new(file).map_err(DownloadError::Target)?;
        let body = self.get(url, None)?.ok_or_else(|| DownloadError::NotFound(url.to_owned()))?;
        if let Some(len) = body.declared_len {
            if len > file.length {
                return Err(DownloadError::Target(TargetError::TooLong { expected: file.length }));
            }
        }
        copy_verified(body.reader, verifier, file.length, dest)
    }
}

/// Why a target could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The request failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The server has no such file.
    #[error("{0}: not found")]
    NotFound(String),
    /// The bytes are not the ones signed.
    #[error("refused: {0}")]
    Target(TargetError),
    /// Reading the response or writing the file failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Copies `reader` into `dest` through `verifier`, reading at most one
/// byte more than `length`, and checks length and hashes at the end.
pub fn copy_verified(
    reader: impl Read,
    mut verifier: TargetVerifier,
    length: u64,
    dest: &mut dyn Write,
) -> Result<(), DownloadError> {
    let mut reader = reader.take(length.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DownloadError::Io(e)),
        };
        verifier.update(&buf[..n]).map_err(DownloadError::Target)?;
        dest.write_all(&buf[..n])?;
    }
    verifier.finish().map_err(DownloadError::Target)
}

/// Reads all of `reader` if it holds at most `max_len` bytes.
pub fn read_capped(reader: impl Read, max_len: u64) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::new();
    reader
        .take(max_len.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| TransportError::Io(format!("reading the response: {e}")))?;
    if out.len() as u64 > max_len {
        return Err(TransportError::TooLarge { limit: max_len });
    }
    Ok(out)
}

/// TUF metadata over HTTP(S) below a base URL.
pub struct HttpTransport {
    http: Http,
    base: String,
}

impl HttpTransport {
    /// Metadata below `base_url` (a trailing `/` is added if missing).
    pub fn new(http: Http, base_url: &str) -> Self {
        HttpTransport { http, base: with_trailing_slash(base_url) }
    }

    /// The URL of metadata file `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}{}", self.base, quote(name, b""))
    }
}

impl Transport for HttpTransport {
    fn fetch_metadata(&mut self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, TransportError> {
        let url = self.url(name);
        let Some(body) = self.http.get(&url, Some(METADATA_TIMEOUT))? else {
            return Ok(None);
        };
        if body.declared_len.is_some_and(|len| len > max_len) {
            return Err(TransportError::TooLarge { limit: max_len });
        }
        read_capped(body.reader, max_len).map(Some)
    }

    /// Every name: it is percent-encoded into one path segment.
    fn supports_role_name(&self, _role: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::hash::sha256_hex;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;

    /// One-connection-at-a-time HTTP server on 127.0.0.1: `respond` gets the
    /// request path and writes the whole response. Returns the base URL and
    /// a receiver of the paths requested.
    fn serve(respond: impl Fn(&str, &mut TcpStream) + Send + 'static) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Skip the headers.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                if tx.send(path.clone()).is_err() {
                    return;
                }
                respond(&path, &mut stream);
            }
        });
        (format!("http://{addr}/meta"), rx)
    }

    fn ok(stream: &mut TcpStream, body: &[u8]) {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    }

    /// Sends an unending body without a length, until the client hangs up.
    fn endless(stream: &mut TcpStream) {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
        let chunk = vec![b' '; 8192];
        while stream.write_all(&chunk).is_ok() {}
    }

    #[test]
    fn quoting_round_trips_and_matches_python() {
        assert_eq!(quote("../delegatedrole", b""), "..%2Fdelegatedrole");
        assert_eq!(quote("?", b""), "%3F");
        assert_eq!(quote("#", b""), "%23");
        assert_eq!(quote("1.root.json", b""), "1.root.json");
        assert_eq!(quote("dir/nested file.txt", b"/"), "dir/nested%20file.txt");
        assert_eq!(quote("ü", b""), "%C3%BC");
        for s in ["a b/c?d#e%f", "ü/..", ""] {
            assert_eq!(unquote(&quote(s, b"")).as_deref(), Some(s));
        }
        assert_eq!(unquote("%zz"), None);
        assert_eq!(unquote("%4"), None);
        assert_eq!(unquote("%FF"), None);
    }

    #[test]
    fn metadata_found_missing_and_escaped() {
        let (base, paths) = serve(|path, stream| match path {
            "/meta/timestamp.json" => ok(stream, b"{}"),
            "/meta/forbidden.json" => {
                let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
            }
            "/meta/broken.json" => {
                let _ = stream.write_all(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n");
            }
            _ => {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
            }
        });
        let mut t = HttpTransport::new(Http::new(), &base);
        assert_eq!(t.fetch_metadata("timestamp.json", 100).unwrap(), Some(b"{}".to_vec()));
        assert_eq!(t.fetch_metadata("2.root.json", 100).unwrap(), None);
        assert_eq!(t.fetch_metadata("forbidden.json", 100).unwrap(), None);
        assert!(
            matches!(t.fetch_metadata("broken.json", 100), Err(TransportError::Io(m)) if m.contains("500"))
        );
        assert_eq!(t.fetch_metadata("1.../odd?#.json", 100).unwrap(), None);
        let seen: Vec<String> = paths.try_iter().collect();
        assert_eq!(seen.last().map(String::as_str), Some("/meta/1...%2Fodd%3F%23.json"));
        assert!(t.supports_role_name("../odd"));
    }

    #[test]
    fn endless_metadata_is_cut_at_the_limit() {
        let (base, _paths) = serve(|_, stream| endless(stream));
        let mut t = HttpTransport::new(Http::new(), &base);
        assert_eq!(
            t.fetch_metadata("timestamp.json", 16_384).unwrap_err(),
            TransportError::TooLarge { limit: 16_384 }
        );
    }

    #[test]
    fn declared_length_over_the_limit_is_refused_unread() {
        let (base, _paths) = serve(|_, stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\n\r\n");
        });
        let mut t = HttpTransport::new(Http::new(), &base);
        assert_eq!(t.fetch_metadata("x.json", 10).unwrap_err(), TransportError::TooLarge { limit: 10 });
    }

    fn target_file(data: &[u8]) -> TargetFile {
        TargetFile {
            length: data.len() as u64,
            hashes: [("sha256".to_owned(), sha256_hex(data))].into_iter().collect(),
            custom: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn targets_are_verified_while_streaming() {
        let (base, _paths) = serve(|path, stream| match path {
            "/meta/good" => ok(stream, b"hello"),
            "/meta/bad" => ok(stream, b"hellO"),
            _ => endless(stream),
        });
        let http = Http::new();
        let file = target_file(b"hello");
        let mut out = Vec::new();
        http.download_target(&format!("{base}/good"), &file, &mut out).unwrap();
        assert_eq!(out, b"hello");
        let mut out = Vec::new();
        assert!(matches!(
            http.download_target(&format!("{base}/bad"), &file, &mut out),
            Err(DownloadError::Target(TargetError::HashMismatch { .. }))
        ));
        let mut out = Vec::new();
        assert!(matches!(
            http.download_target(&format!("{base}/endless"), &file, &mut out),
            Err(DownloadError::Target(TargetError::TooLong { .. }))
        ));
        assert!(out.len() <= 5, "read past the signed length");
        let mut unknown = file.clone();
        unknown.hashes = [("md5".to_owned(), "00".to_owned())].into_iter().collect();
        assert!(matches!(
            http.download_target(&format!("{base}/good"), &unknown, &mut Vec::new()),
            Err(DownloadError::Target(TargetError::NoKnownHash))
        ));
    }
}
