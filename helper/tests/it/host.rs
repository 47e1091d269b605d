//! The real binary as the browser and the autostart use it: a `service` on a
//! temp socket and store, `native-host` processes fed frames on stdin.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use onshi_core::protocol::{join_chunks, FromHelper, Response};
use onshi_helper::store::{NewResult, ResultKind, ResultStatus, ResultXml, Store};
use onshi_helper::time::Timestamp;
use serde_json::{json, Value};

use super::helper;

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
const PAGE: &str = "http://127.0.0.1:8080";

struct Service {
    child: Child,
    socket: PathBuf,
    store: PathBuf,
    log: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_service(home: &Path) -> Service {
    let socket = home.join("h.sock");
    let store = home.join("s.sqlite");
    let log = home.join("service.log");
    let mut c = helper(home);
    c.arg("--store").arg(&store).args(["service", "--socket"]).arg(&socket);
    c.stderr(std::fs::File::create(&log).unwrap()).stdout(Stdio::null());
    let child = c.spawn().unwrap();
    let t = Instant::now();
    while !socket.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "service did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Service { child, socket, store, log }
}

struct Host {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Host {
    /// Started exactly as Chromium starts it: the caller origin as the only argument.
    fn start(home: &Path, socket: &Path) -> Host {
        let mut c = helper(home);
        c.arg(format!("chrome-extension://{EXT}/")).env("ONSHI_HELPER_SOCKET", socket);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = c.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        Host { child, stdin, stdout }
    }

    fn send(&mut self, frame: &Value) {
        let b = serde_json::to_vec(frame).unwrap();
        self.stdin.write_all(&(b.len() as u32).to_ne_bytes()).unwrap();
        self.stdin.write_all(&b).unwrap();
        self.stdin.flush().unwrap();
    }

    /// One raw frame from stdout, checking the browser's 1 MiB cap.
    fn frame(&mut self) -> String {
        let mut h = [0u8; 4];
        self.stdout.read_exact(&mut h).unwrap();
        let n = u32::from_ne_bytes(h) as usize;
        assert!(n <= 1024 * 1024, "frame of {n} bytes exceeds 1 MiB");
        let mut b = vec![0u8; n];
        self.stdout.read_exact(&mut b).unwrap();
        String::from_utf8(b).unwrap()
    }

    fn ask(&mut self, id: &str, origin: &str, via: &str, body: Value) -> Value {
        self.send(&json!({"v":1,"id":id,"origin":origin,"via":via,"body":body}));
        loop {
            let v: Value = serde_json::from_str(&self.frame()).unwrap();
            if v.get("event").is_none() {
                assert_eq!(v["id"], id);
                return v;
            }
        }
    }
}

#[test]
fn service_and_native_host_end_to_end() {
    let home = tempfile::tempdir().unwrap();
    let svc = start_service(home.path());

    // A second service (autostart may launch it twice) exits 0, quietly.
    let mut c = helper(home.path());
    c.arg("--store").arg(&svc.store).args(["service", "--socket"]).arg(&svc.socket);
    let (code, out, err) = super::run(c);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("already running"), "{err}");
    // The socket is only for this user.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&svc.socket).unwrap().permissions().mode() & 0o777, 0o600);

    let mut host = Host::start(home.path(), &svc.socket);
    let hello = host.ask("1", PAGE, "page", json!({"type":"hello","page_version":"t"}));
    assert_eq!(hello["ok"], true);
    assert_eq!(hello["body"]["protocol_version"], 1);
    assert_eq!(hello["body"]["paired"], false);

    let refused = host.ask("2", PAGE, "page", json!({"type":"today","origin":"chrome-extension://x"}));
    assert_eq!(refused["error"]["code"], "not_paired");
    assert!(refused["error"]["message"]["ja"].as_str().unwrap().contains("ペアリングを始める"));

    // Pair through the extension's path.
    let begin = host.ask("3", PAGE, "page", json!({"type":"pair_begin"}));
    let pid = begin["body"]["pairing_id"].as_str().unwrap().to_owned();
    assert_eq!(begin["body"]["code"].as_str().unwrap().len(), 6);
    let by_page = host.ask("4", PAGE, "page", json!({"type":"pair_approve","pairing_id":pid,"approve":true}));
    assert_eq!(by_page["error"]["code"], "extension_only");
    let ext = format!("chrome-extension://{EXT}");
    host.send(&json!({"v":1,"id":"5","origin":ext,"via":"extension","body":{"type":"pair_approve","pairing_id":pid,"approve":true}}));
    let (mut reply, mut event) = (None, None);
    while reply.is_none() || event.is_none() {
        let v: Value = serde_json::from_str(&host.frame()).unwrap();
        if v.get("event").is_some() { event = Some(v) } else { reply = Some(v) }
    }
    assert_eq!(reply.unwrap()["body"]["approved"], true);
    let event = event.unwrap();
    assert_eq!(event["event"]["type"], "pairing_decided");
    assert_eq!(event["origin"], PAGE);

    // 2 MiB of today's results: the reply comes in chunks of ≤ 1 MiB, whole.
    {
        let mut store = Store::open(&svc.store).unwrap();
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let at = Timestamp::from_unix(secs, 9 * 60).unwrap();
        for i in 0..2 {
            let xml = format!("<XmlMsg n=\"{i}\">{}</XmlMsg>", "あ\"".repeat(350_000));
            store.insert_result(&NewResult {
                at: at.clone(), kind: ResultKind::InsuranceConfirm, origin: None, job: None, status: ResultStatus::Valid,
                insurer_number: None, name_kana: None, error: None, card: None, document: None, treatment: None, xml: ResultXml::received(xml.into_bytes()).unwrap(),
            }).unwrap();
        }
    }
    host.send(&json!({"v":1,"id":"6","origin":PAGE,"via":"page","body":{"type":"today"}}));
    let first = FromHelper::parse(&host.frame()).unwrap();
    let FromHelper::Chunk { chunk, .. } = &first else { panic!("expected chunks, got {first:?}") };
    let mut frames = vec![first.clone()];
    for _ in 1..chunk.count {
        frames.push(FromHelper::parse(&host.frame()).unwrap());
    }
    assert!(frames.len() >= 3, "{} chunks", frames.len());
    let (id, text) = join_chunks(frames).unwrap();
    assert_eq!(id, "6");
    assert!(text.len() > 2 * 1024 * 1024);
    let FromHelper::Reply { result: Ok(Response::Today(t)), .. } = FromHelper::parse(&text).unwrap() else { panic!() };
    assert_eq!(t.entries.len(), 2);
    assert_eq!(t.entries[1].xml.chars().filter(|c| *c == 'あ').count(), 350_000);

    // Paired, but this service has no config: the card flow says what IT must do.
    let later = host.ask("7", PAGE, "page", json!({"type":"card_confirm","mode":"visual"}));
    assert_eq!(later["error"]["code"], "internal");
    assert!(later["error"]["message"]["en"].as_str().unwrap().contains("config check"), "{later}");

    // stdin EOF ends the host cleanly.
    drop(host.stdin);
    let status = host.child.wait().unwrap();
    assert!(status.success());

    // Every refusal and pairing decision is in the audit log.
    let store = Store::open(&svc.store).unwrap();
    let tail = store.audit_tail(50).unwrap();
    let kinds: Vec<_> = tail.iter().map(|e| format!("{}:{}", e.kind, e.outcome)).collect();
    assert!(kinds.iter().filter(|k| *k == "access:refused").count() >= 2, "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "card_confirm:failed"), "{kinds:?}");
    assert!(tail.iter().any(|e| e.detail.contains("\"approve\"")), "{kinds:?}");
}

#[test]
fn another_uid_is_refused() {
    if Command::new("setpriv").arg("--version").output().is_err() {
        panic!("setpriv is needed for this test");
    }
    let home = tempfile::tempdir().unwrap();
    let svc = start_service(home.path());
    use std::os::unix::fs::PermissionsExt;
    // Open the file permissions on purpose, so only the peer-uid check stands in the way.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&svc.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_onshi-helper"))
        .args(["native-host", "--extension-id", EXT, "--socket"])
        .arg(&svc.socket)
        .env("HOME", "/tmp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            let b = br#"{"v":1,"id":"1","origin":"http://127.0.0.1:8080","via":"page","body":{"type":"hello","page_version":"t"}}"#;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(&(b.len() as u32).to_ne_bytes());
            let _ = stdin.write_all(b);
            drop(stdin);
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.stdout.is_empty(), "another uid got an answer: {:?}", String::from_utf8_lossy(&out.stdout));
    let t = Instant::now();
    loop {
        let log = std::fs::read_to_string(&svc.log).unwrap();
        if log.contains("refused a connection from uid Some(65534)") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
