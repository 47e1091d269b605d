//! A minimal static file host for the built reception page (`dist/web`),
//! standing in for whatever web server a clinic uses. Loopback only, GET and
//! HEAD only, no directory listing, no path outside the served folder.
//! Every answer carries the page's security headers
//! (`onshi_core::page_policy::RESPONSE_HEADERS`: the strict
//! Content-Security-Policy, nosniff, no-referrer), as a clinic's server must.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::thread;

use onshi_core::page_policy::RESPONSE_HEADERS;

/// Serves `root` on `listener` until the process ends, a thread per connection.
pub fn serve(listener: TcpListener, root: PathBuf) -> io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        let root = root.clone();
        thread::spawn(move || {
            // A broken connection only ends that connection.
            let _ = handle(stream, &root);
        });
    }
    Ok(())
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        // Browsers stream-compile wasm only with this exact type.
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("csv") => "text/csv; charset=utf-8",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    }
}

/// Maps a request path to a file under `root`, refusing `..` and absolute parts.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or("/");
    let mut out = root.to_path_buf();
    for c in Path::new(path.trim_start_matches('/')).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

fn handle(mut stream: TcpStream, root: &Path) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    // Bound the request line so a hostile client cannot grow memory.
    reader.by_ref().take(8192).read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // Drain headers (bounded) so the client sees a clean response.
    let mut header = String::new();
    for _ in 0..100 {
        header.clear();
        if reader.by_ref().take(8192).read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, "405 Method Not Allowed", "text/plain", b"method not allowed\n", true);
    }
    match resolve(root, target).map(|p| (std::fs::read(&p), p)) {
        Some((Ok(body), path)) => respond(&mut stream, "200 OK", content_type(&path), &body, method == "GET"),
        _ => respond(&mut stream, "404 Not Found", "text/plain", b"not found\n", true),
    }
}

fn respond(stream: &mut TcpStream, status: &str, ctype: &str, body: &[u8], with_body: bool) -> io::Result<()> {
    stream.write_all(head(status, ctype, body.len()).as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

/// The status line and headers of an answer. The security headers go on
/// every answer, not only HTML: they cost nothing elsewhere, and a file
/// served as a document by mistake is covered too.
fn head(status: &str, ctype: &str, length: usize) -> String {
    let mut h = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\nCache-Control: no-store\r\nConnection: close\r\n"
    );
    for (name, value) in RESPONSE_HEADERS {
        h.push_str(&format!("{name}: {value}\r\n"));
    }
    h.push_str("\r\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_carries_the_page_policy() {
        let dir = std::env::temp_dir().join(format!("onshi-sim-web-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html>").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let root = dir.clone();
        thread::spawn(move || serve(listener, root));
        for (request, status) in [("GET / HTTP/1.1", "200 OK"), ("GET /missing HTTP/1.1", "404 Not Found"), ("POST / HTTP/1.1", "405")] {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(s, "{request}\r\nHost: x\r\n\r\n").unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            let (head, _) = answer.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
            assert!(head.contains(&format!("\r\nContent-Security-Policy: {}\r\n", onshi_core::page_policy::HEADER)), "{head}");
            assert!(head.contains("\r\nX-Content-Type-Options: nosniff\r\n"), "{head}");
            assert!(head.contains("\r\nReferrer-Policy: no-referrer"), "{head}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn paths_cannot_escape_the_root() {
        let root = Path::new("/srv/web");
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/../../x"), None);
        assert_eq!(resolve(root, "/style.css?v=1"), Some(PathBuf::from("/srv/web/style.css")));
    }
}
