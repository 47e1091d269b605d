//! Issue 5 benchmark: a full My Number card confirmation (PIN mode) through
//! every real part — pcscd with the vpcd reader, the virtual card as its own
//! process (`onshi-sim card`), the simulator gateway over mutual TLS
//! (`onshi-sim gateway`), and the real `onshi-helper service` binary driven
//! through its local socket as the native host and the extension would drive
//! it: a page's `card_confirm`, the `pin_needed` event, the extension
//! window's `pin_entry` (`via: "extension"`), the reply. Each reply carries
//! the service's own split (`timing`: card, network, helper, total); this
//! prints p50/p99 of each over N runs after a warm-up.
//!
//! Then the same N confirmations again while a second connection floods the
//! service with `pair_begin` from 50 unpaired origins (issue 15), printing
//! both tables from the same run, the requests per second the service
//! refused, and how much the store and the audit log grew per 10,000
//! refusals. A measurement, not a
//! test: nothing here has a threshold. If pcscd (or any other part) cannot
//! be started it says why and exits non-zero — it never prints numbers it
//! did not measure.
//!
//! ```text
//! cargo build --release -p onshi-helper -p onshi-sim --bins
//! cargo run -p onshi-tests --example card_bench -- --bins target/release [N]
//! ```
//! (`cargo xtask bench helper` does both, N = 50.) `--bins` names the folder
//! with the `onshi-helper` and `onshi-sim` binaries under test; without it,
//! the ones next to this example's own profile folder are used.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use onshi_core::protocol::{Event, FromHelper, Response, Timing};
use onshi_helper::browser::Browser;
use onshi_helper::card::transport::Pcsc;
use onshi_helper::store::{ExtensionId, Origin, Store};
use onshi_helper::time::Timestamp;
use onshi_tests::pcscd::{Pcscd, VPCD_ADDR, VPCD_READER};
use onshi_tests::process::Guarded;

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
const PAGE: &str = "https://clinic.example";
/// Registered for insurance use in the seeded registry, so the gateway answers with a result.
const PERSON: &str = "P0001";
const PIN: &str = "1234";
/// The test PKI's clinic (`onshi_sim::pki::DEFAULT_INSTITUTION`).
const INSTITUTION: &str = "0110113719";
const WARM_UP: usize = 5;

fn main() {
    if let Err(e) = run() {
        eprintln!("card_bench: {e:#}");
        eprintln!("カード確認のベンチマークを実行できませんでした（上の理由を確認してください）。数値は出力していません。");
        eprintln!("The card-confirm benchmark could not run (see the reason above); no figures were printed.");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut bins, mut runs) = (None, 50usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bins" => bins = Some(PathBuf::from(args.next().context("--bins needs a folder")?)),
            n => runs = n.parse().with_context(|| format!("not a run count: {n:?}"))?,
        }
    }
    ensure!(runs > 0, "the run count must be at least 1");
    let bins = match bins {
        Some(b) if b.is_absolute() => b,
        Some(b) => onshi_tests::paths::workspace_root().join(b),
        // target/<profile>/examples/card_bench → target/<profile>
        None => std::env::current_exe()?.parent().and_then(Path::parent).map(Path::to_path_buf).context("own folder")?,
    };
    let helper = bins.join("onshi-helper");
    let sim = bins.join("onshi-sim");
    for b in [&helper, &sim] {
        ensure!(b.exists(), "{} is not built (cargo build --release -p onshi-helper -p onshi-sim --bins)", b.display());
    }

    // On the workspace's disk, not /tmp: the helper's SQLite commits fsync, and
    // a reception PC's store is on a disk too.
    let work = onshi_tests::paths::workspace_root().join("target/card-bench");
    let run_dir = work.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir)?;
    let result = bench(&helper, &sim, &work, &run_dir, runs);
    let _ = std::fs::remove_dir_all(&run_dir);
    result
}

fn bench(helper: &Path, sim: &Path, work: &Path, run_dir: &Path, runs: usize) -> Result<()> {
    let pcscd = Pcscd::acquire().context("pcscd with the vpcd reader is needed (run as root, with pcscd and vsmartcard-vpcd installed)")?;
    eprintln!("pcscd: {}", if pcscd.started_here() { "started for this run" } else { "already running, used as it is" });

    // The test PKI is kept between runs (`pki init` is idempotent; key generation is slow).
    let pki = work.join("pki");
    let status = Command::new(sim).args(["pki", "init"]).arg(&pki).stdout(Stdio::null()).status()?;
    ensure!(status.success(), "onshi-sim pki init failed");
    let registry = run_dir.join("registry.sqlite");
    let status = Command::new(sim).args(["registry", "seed", "--db"]).arg(&registry).stdout(Stdio::null()).status()?;
    ensure!(status.success(), "onshi-sim registry seed failed");

    let mut gw = Command::new(sim);
    gw.args(["gateway", "--db"]).arg(&registry).arg("--pki").arg(&pki).args(["--listen", "127.0.0.1:0"]);
    let (gateway, line) = Guarded::spawn_and_read_line("onshi-sim gateway", gw, Duration::from_secs(20))?;
    let url = line.strip_prefix("gateway ready: ").with_context(|| format!("unexpected gateway line {line:?}"))?.to_owned();

    let mut card = Command::new(sim);
    card.args(["card", "--person", PERSON, "--pin", PIN, "--vpcd", VPCD_ADDR]).arg("--pki").arg(&pki);
    let (card, line) = Guarded::spawn_and_read_line("onshi-sim card", card, Duration::from_secs(20))?;
    ensure!(line.starts_with("card ready"), "unexpected card line {line:?}");
    wait_for_card()?;

    let config = run_dir.join("helper.toml");
    let store = run_dir.join("helper.sqlite");
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    std::fs::write(
        &config,
        format!(
            "institution_code = \"{INSTITUTION}\"\ndesk = \"ベンチ\"\nstore_path = {}\nutc_offset = \"+09:00\"\n\n[backend]\nkind = \"gateway\"\nurl = \"{url}\"\nca = {}\nclient_cert = {}\nclient_key = {}\n",
            q(&store),
            q(&pki.join("gateway/ca.pem")),
            q(&pki.join("clinic/client.pem")),
            q(&pki.join("clinic/client-key.pem")),
        ),
    )?;
    pair(&store)?;
    let socket = run_dir.join("helper.sock");
    let log_path = run_dir.join("service.log");
    let mut svc = Command::new(helper);
    svc.env("HOME", run_dir)
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(&store)
        .args(["service", "--socket"])
        .arg(&socket)
        .stderr(std::fs::File::create(&log_path)?);
    let mut service = Guarded::spawn("onshi-helper service", svc)?;
    let start = Instant::now();
    let mut conn = loop {
        if let Ok(s) = UnixStream::connect(&socket) {
            break s;
        }
        if let Ok(Some(status)) = service.child.try_wait() {
            bail!("the helper service stopped ({status}):\n{}", std::fs::read_to_string(&log_path).unwrap_or_default());
        }
        ensure!(start.elapsed() < Duration::from_secs(15), "the helper service did not open {}", socket.display());
        std::thread::sleep(Duration::from_millis(20));
    };
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    // What a native host sends first: who the browser says started it.
    write_frame(&mut conn, format!(r#"{{"relay":1,"browser":"chromium","extension_id":"{EXT}"}}"#).as_bytes())?;

    let mut client = Client { conn, next: 0 };
    let mut seen = Vec::new();
    for i in 0..WARM_UP + runs {
        let (timing, e2e) = client.confirm().with_context(|| {
            format!("card confirm {i}; service log:\n{}", std::fs::read_to_string(&log_path).unwrap_or_default())
        })?;
        if i >= WARM_UP {
            seen.push((timing, e2e));
        }
    }
    print_table(&format!("card confirm (PIN mode) through pcscd + vpcd + onshi-sim card + onshi-sim gateway (mTLS) + onshi-helper service, {runs} runs after {WARM_UP} warm-up:"), "card_confirm", &seen);

    // The flood on its own for 5 s: what it costs the store, with nothing
    // else writing.
    let before = Growth::measure(&store)?;
    let flood = Flood::start(&socket)?;
    std::thread::sleep(Duration::from_secs(5));
    let alone = flood.stop()?;
    let after = Growth::measure(&store)?;
    let refused = alone.refused.max(1) as f64;
    println!(
        "flood alone: {} requests in {:.1} s: {} answered (pairing windows opened: {}), {} refused = {:.0} refused/s",
        alone.sent, alone.secs, alone.sent - alone.refused, alone.begun, alone.refused, alone.refused as f64 / alone.secs
    );
    println!(
        "store growth per 10,000 refused: {:.1} KB on disk (helper.sqlite + WAL), {:.2} audit entries, {:.2} pairing rows",
        (after.bytes as f64 - before.bytes as f64) / 1024.0 * 10_000.0 / refused,
        (after.audit as f64 - before.audit as f64) * 10_000.0 / refused,
        (after.pairings as f64 - before.pairings as f64) * 10_000.0 / refused,
    );
    println!(
        "{{\"bench\":\"pair_begin_flood\",\"sent\":{},\"refused\":{},\"refused_per_s\":{:.0},\"bytes\":{},\"audit\":{},\"pairings\":{}}}",
        alone.sent,
        alone.refused,
        alone.refused as f64 / alone.secs,
        after.bytes as i64 - before.bytes as i64,
        after.audit - before.audit,
        after.pairings - before.pairings
    );

    // The same confirmations while unpaired origins flood the service.
    let flood = Flood::start(&socket)?;
    std::thread::sleep(Duration::from_millis(500));
    let mut flooded = Vec::new();
    for i in 0..runs {
        flooded.push(client.confirm().with_context(|| format!("card confirm {i} during the flood"))?);
    }
    let during = flood.stop()?;
    print_table(&format!("the same, {runs} runs, while one connection sends pair_begin from 50 unpaired origins as fast as it is answered:"), "card_confirm_flooded", &flooded);
    println!(
        "flood during the checks: {} requests in {:.1} s, {} refused = {:.0} refused/s",
        during.sent, during.secs, during.refused, during.refused as f64 / during.secs
    );
    // Stopped in the reverse order of starting: the card leaves vpcd before pcscd goes.
    drop(client);
    drop(service);
    drop(card);
    drop(gateway);
    drop(pcscd);

    Ok(())
}

/// p50/p99/max of each part of the timing, as a table and as one JSON line.
fn print_table(title: &str, bench: &str, seen: &[(Timing, f64)]) {
    let col = |f: fn(&(Timing, f64)) -> f64| {
        let mut v: Vec<f64> = seen.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
        (at(0.5), at(0.99), v[v.len() - 1])
    };
    let rows: [(&str, (f64, f64, f64)); 5] = [
        ("total", col(|s| s.0.total_ms)),
        ("card", col(|s| s.0.card_ms)),
        ("network", col(|s| s.0.network_ms)),
        ("helper", col(|s| s.0.helper_ms)),
        ("socket_e2e", col(|s| s.1)),
    ];
    println!("{title}");
    for (name, (p50, p99, max)) in rows {
        println!("  {name:<10} p50 {p50:8.2} ms   p99 {p99:8.2} ms   max {max:8.2} ms");
    }
    let fields: Vec<String> =
        rows.iter().map(|(n, (p50, p99, _))| format!("\"{n}_p50_ms\":{p50:.3},\"{n}_p99_ms\":{p99:.3}")).collect();
    println!("{{\"bench\":\"{bench}\",\"runs\":{},{}}}", seen.len(), fields.join(","));
    let helper_p50 = rows[3].1.0;
    println!(
        "helper's own share p50 {helper_p50:.2} ms: {} the 10 ms target",
        if helper_p50 <= 10.0 { "within" } else { "OVER" }
    );
}

/// The store's size on disk and its audit and pairing rows.
struct Growth {
    bytes: u64,
    audit: u64,
    pairings: u64,
}

impl Growth {
    fn measure(store: &Path) -> Result<Growth> {
        let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = store.as_os_str().to_owned();
        wal.push("-wal");
        let s = Store::open(store)?;
        Ok(Growth { bytes: size(store.to_owned()) + size(PathBuf::from(wal)), audit: s.verify_audit()?.entries, pairings: s.pairings()?.len() as u64 })
    }
}

/// What the flood did.
struct FloodCount {
    sent: u64,
    refused: u64,
    begun: u64,
    secs: f64,
}

/// A second native-host connection sending `pair_begin` from 50 unpaired
/// origins, each as soon as the last is answered, until stopped.
struct Flood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Result<FloodCount>>,
}

impl Flood {
    fn start(socket: &Path) -> Result<Flood> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let mut conn = UnixStream::connect(socket)?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        write_frame(&mut conn, format!(r#"{{"relay":1,"browser":"chromium","extension_id":"{EXT}"}}"#).as_bytes())?;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut c = Client { conn, next: 0 };
            let (mut sent, mut refused, mut begun) = (0u64, 0u64, 0u64);
            let start = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let origin = format!("https://flood{}.example", sent % 50);
                let id = c.send(&origin, "page", r#"{"type":"pair_begin"}"#)?;
                sent += 1;
                loop {
                    match c.read()? {
                        FromHelper::Reply { id: got, result, .. } if got == id => {
                            match result {
                                Ok(Response::PairBegin(_)) => begun += 1,
                                Ok(other) => bail!("pair_begin answered {other:?}"),
                                Err(_) => refused += 1,
                            }
                            break;
                        }
                        _ => {}
                    }
                }
            }
            Ok(FloodCount { sent, refused, begun, secs: start.elapsed().as_secs_f64() })
        });
        Ok(Flood { stop, thread })
    }

    fn stop(self) -> Result<FloodCount> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().map_err(|_| anyhow::anyhow!("the flood thread panicked"))?
    }
}

/// Pairs the page up front, as the pairing window would have.
fn pair(store: &Path) -> Result<()> {
    let mut store = Store::open(store)?;
    let now = Timestamp::parse("2026-11-25T09:00:00+09:00")?;
    let ext = ExtensionId::new(EXT)?;
    let row = store.begin_pairing(&Origin::new(PAGE)?, &ext, Browser::Chromium, &now)?;
    store.approve_pairing(row, &now)?;
    Ok(())
}

/// Waits until pcscd reports the virtual card in the vpcd reader (it polls every ~400 ms).
fn wait_for_card() -> Result<()> {
    let pcsc = Pcsc::establish()?;
    let reader = VPCD_READER.to_str()?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if pcsc.readers()?.iter().any(|r| r.name == reader && r.card_present) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("pcscd never saw the virtual card in {reader:?}")
}

fn write_frame(w: &mut UnixStream, payload: &[u8]) -> Result<()> {
    w.write_all(&u32::try_from(payload.len())?.to_be_bytes())?;
    w.write_all(payload)?;
    Ok(())
}

/// The native host's side of the socket, speaking for the page and for the extension's PIN window.
struct Client {
    conn: UnixStream,
    next: u32,
}

impl Client {
    fn send(&mut self, origin: &str, via: &str, body: &str) -> Result<String> {
        self.next += 1;
        let id = format!("b{}", self.next);
        let frame = format!(r#"{{"v":1,"id":"{id}","origin":"{origin}","via":"{via}","body":{body}}}"#);
        write_frame(&mut self.conn, frame.as_bytes())?;
        Ok(id)
    }

    fn read(&mut self) -> Result<FromHelper> {
        let mut len = [0u8; 4];
        self.conn.read_exact(&mut len).context("reading from the service")?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        self.conn.read_exact(&mut body)?;
        let text = String::from_utf8(body)?;
        FromHelper::parse(&text).map_err(|e| anyhow::anyhow!("unparsable frame {text}: {e}"))
    }

    /// One PIN-mode confirmation: the service's timing, and the time from
    /// writing `pin_entry` to reading the reply as seen on the socket.
    fn confirm(&mut self) -> Result<(Timing, f64)> {
        let cc = self.send(PAGE, "page", r#"{"type":"card_confirm","mode":"pin","consents":{"medication":true}}"#)?;
        let confirm_id = loop {
            match self.read()? {
                FromHelper::Event { event: Event::PinNeeded { confirm_id, request_id, .. }, .. } if request_id == cc => {
                    break confirm_id;
                }
                FromHelper::Reply { id, result: Err(e), .. } if id == cc => bail!("card_confirm failed: {} {}", e.code.as_str(), e.message.en),
                _ => {}
            }
        };
        let sent = Instant::now();
        let body = format!(r#"{{"type":"pin_entry","confirm_id":"{confirm_id}","pin":"{PIN}","confirm_last_try":false}}"#);
        let pe = self.send(&format!("chrome-extension://{EXT}"), "extension", &body)?;
        let mut pin_ok = false;
        loop {
            match self.read()? {
                FromHelper::Reply { id, result, .. } if id == pe => match result {
                    Ok(Response::PinEntry) => pin_ok = true,
                    Ok(other) => bail!("pin_entry answered {other:?}"),
                    Err(e) => bail!("pin_entry failed: {} {}", e.code.as_str(), e.message.en),
                },
                FromHelper::Reply { id, result, .. } if id == cc => {
                    let e2e = sent.elapsed().as_secs_f64() * 1000.0;
                    ensure!(pin_ok, "the card_confirm reply came before the pin_entry reply");
                    return match result {
                        Ok(Response::CardConfirm(e)) => {
                            ensure!(e.summary.qualification_validity.is_some(), "the result has no QualificationValidity: {}", e.xml);
                            Ok((e.timing.context("the reply has no timing (an older helper?)")?, e2e))
                        }
                        Ok(other) => bail!("card_confirm answered {other:?}"),
                        Err(e) => bail!("card_confirm failed: {} {}", e.code.as_str(), e.message.en),
                    };
                }
                _ => {}
            }
        }
    }
}
