//! Measures the resident service as the browser sees it: `status` round
//! trips native-host → service → back (p50/p99 over N frames, through the
//! real binaries, stdin/stdout framing and the local socket), then the idle
//! service's memory (VmRSS) and its CPU time over 10 idle seconds. A
//! measurement to print, not a test with a threshold.
//!
//! `cargo build --release -p onshi-helper --bins --examples && target/release/examples/service_bench [N]`
//! (`cargo xtask bench helper` does both). The `onshi-helper` binary is
//! taken from the folder above this example's.
//!
//! `service_bench N --wine <onshi-helper.exe>` measures the Windows build
//! instead: service and native host run under `wine64` (the environment
//! names the prefix; `cargo xtask bench windows` sets it up), the link is
//! the named pipe, and the frames cross Wine's stdio the way Chrome's do on
//! Windows. Memory and CPU are not printed then: under Wine they would be
//! Wine's figures, not the helper's.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use onshi_helper::browser::Browser;
use onshi_helper::store::{ExtensionId, Origin, Store};
use onshi_helper::time::Timestamp;

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
const PAGE: &str = "https://clinic.example";

fn proc_field(pid: u32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find(|l| l.starts_with(key)).map(|l| l[key.len()..].trim().to_owned())
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = &text[text.rfind(") ")? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The helper as run here: the Linux binary, or the Windows exe under Wine.
struct Helper {
    wine: bool,
    exe: PathBuf,
}

impl Helper {
    fn command(&self) -> Command {
        if self.wine {
            // Debian keeps the loader off PATH; `cargo xtask bench windows` names it in $WINE.
            let mut c = Command::new(std::env::var_os("WINE").unwrap_or_else(|| "/usr/lib/wine/wine64".into()));
            c.arg(&self.exe);
            c
        } else {
            Command::new(&self.exe)
        }
    }

    /// A path as the helper reads it (Wine maps `/` to drive `Z:`).
    fn path(&self, p: &std::path::Path) -> String {
        if self.wine { format!("Z:{}", p.display().to_string().replace('/', "\\")) } else { p.display().to_string() }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let helper = match args.iter().position(|a| a == "--wine") {
        Some(i) => Helper { wine: true, exe: PathBuf::from(args.get(i + 1).expect("--wine needs the path of onshi-helper.exe")) },
        None => {
            let exe = std::env::current_exe().expect("own path");
            Helper { wine: false, exe: exe.parent().and_then(|p| p.parent()).map(|p| p.join("onshi-helper")).expect("target folder") }
        }
    };
    assert!(helper.exe.exists(), "build the binary first: cargo build -p onshi-helper --bins ({} missing)", helper.exe.display());
    let home = std::env::temp_dir().join(format!("onshi-service-bench-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("temp folder");
    let store_path = home.join("helper.sqlite");
    let socket = if helper.wine { format!(r"\\.\pipe\onshi-bench-{}", std::process::id()) } else { home.join("h.sock").display().to_string() };
    {
        // Pair the page up front, as the pairing window would have.
        let mut store = Store::open(&store_path).expect("store");
        let now = Timestamp::parse("2026-11-25T09:00:00+09:00").expect("time");
        let ext = ExtensionId::new(EXT).expect("id");
        let row = store.begin_pairing(&Origin::new(PAGE).expect("origin"), &ext, Browser::Chromium, &now).expect("pair");
        store.approve_pairing(row, &now).expect("approve");
    }
    let mut service = helper
        .command()
        .env("HOME", &home)
        .arg("--store")
        .arg(helper.path(&store_path))
        .args(["service", "--socket"])
        .arg(&socket)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start service");
    // Listening once the service says so (a pipe has no file to wait for).
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let log = service.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(log).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = ready_tx.send(());
            }
        }
    });
    ready.recv_timeout(Duration::from_secs(60)).expect("the service did not start within 60 s");
    std::thread::sleep(Duration::from_millis(300));
    let pid = service.id();
    let rss_start = proc_field(pid, "VmRSS:").unwrap_or_default();

    let mut host = helper
        .command()
        .env("HOME", &home)
        .env("ONSHI_HELPER_SOCKET", &socket)
        .arg(format!("chrome-extension://{EXT}/"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start native host");
    let mut stdin = host.stdin.take().expect("stdin");
    let mut stdout = host.stdout.take().expect("stdout");
    let mut round = |i: usize| -> Duration {
        let frame = format!(r#"{{"v":1,"id":"{i}","origin":"{PAGE}","via":"page","body":{{"type":"status"}}}}"#);
        let t = Instant::now();
        stdin.write_all(&(frame.len() as u32).to_ne_bytes()).expect("write");
        stdin.write_all(frame.as_bytes()).expect("write");
        stdin.flush().expect("flush");
        let mut len = [0u8; 4];
        stdout.read_exact(&mut len).expect("read");
        let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
        stdout.read_exact(&mut body).expect("read");
        let e = t.elapsed();
        assert!(String::from_utf8_lossy(&body).contains("\"ok\":true"), "{}", String::from_utf8_lossy(&body));
        e
    };
    for i in 0..50 {
        round(i); // warm-up: connection, page cache, allocator
    }
    let mut times: Vec<Duration> = (0..n).map(|i| round(1000 + i)).collect();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let link = if helper.wine { "named pipe, under Wine" } else { "Unix socket" };
    println!("status round trip native-host → service → back ({link}): n={n} p50={:?} p99={:?} max={:?}", pct(0.50), pct(0.99), times[n - 1]);
    drop(stdin);
    let _ = host.wait();
    if helper.wine {
        // The stop command is how an uninstall ends the service; use it here too.
        let stopped = helper.command().args(["service", "--stop", "--socket"]).arg(&socket).status();
        assert!(stopped.is_ok_and(|s| s.success()), "service --stop failed");
        let _ = service.wait();
        let _ = std::fs::remove_dir_all(&home);
        return;
    }

    let ticks_per_s: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100);
    let before = cpu_ticks(pid).unwrap_or(0);
    std::thread::sleep(Duration::from_secs(10));
    let after = cpu_ticks(pid).unwrap_or(0);
    let cpu_ms = (after - before) * 1000 / ticks_per_s;
    println!("idle service: VmRSS after start {rss_start}, after the bench {}", proc_field(pid, "VmRSS:").unwrap_or_default());
    println!("idle service: CPU over 10 s idle = {cpu_ms} ms ({:.3} %)", cpu_ms as f64 / 100.0);
    let _ = service.kill();
    let _ = service.wait();
    let _ = std::fs::remove_dir_all(&home);
}
