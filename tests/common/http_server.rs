//! A static HTTP server on 127.0.0.1 for tests: Python's `http.server` on
//! an ephemeral port, serving one directory, killed when dropped. Shared by
//! the e2e and interop test targets (included with `#[path]`).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `python -m http.server` serving a directory; killed when dropped.
pub struct Server {
    child: Child,
    /// The base URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// Starts serving `dir` with `python`.
    pub fn start(python: &Path, dir: &Path) -> Server {
        let mut child = Command::new(python)
            .args(["-I", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python -m http.server");
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        // is printed once the socket listens; EOF means it failed to start.
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout is piped");
        let read = BufReader::new(stdout).read_line(&mut line);
        let port =
            line.split_whitespace().skip_while(|w| *w != "port").nth(1).and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port.filter(|_| read.is_ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("http.server did not report its port: {line:?}");
        };
        let server = Server { child, url: format!("http://127.0.0.1:{port}") };
        // Bounded check that it accepts connections (each try waits at most 200 ms).
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let up = (0..50).any(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok());
        assert!(up, "http.server on port {port} does not accept connections");
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
