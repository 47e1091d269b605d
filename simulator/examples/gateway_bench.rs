//! Gateway load benchmark (`cargo xtask bench sim`): starts `onshi-sim
//! gateway` in-process on loopback (real mTLS over TCP) and drives it with
//! 8 concurrent mTLS clients, each on its own keep-alive connection.
//!
//! Prints: individual checks per second with p50/p99 latency, and the time
//! from a 10,000-person batch upload to all results downloaded (batch delay 0).
//! Client and server share the machine's cores, as they would in the demo.
//!
//! Usage: `gateway_bench [SECONDS (default 5)] [BATCH (default 10000)] [sjis|utf8 (answers; default sjis)]`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use onshi_core::codes::SegmentOfResult;
use onshi_core::message::{BatchUploadBody, IndividualRequestBody, MessageHeader, Msg, ReceptionBody, SearchInfo};
use onshi_core::{Encoding, Message, parse};
use onshi_sim::gateway::{self, Gateway, GatewayOptions};
use onshi_sim::pki::{self, PkiLayout, PkiOptions};

const CLIENTS: usize = 8;

fn header() -> MessageHeader {
    MessageHeader {
        qualification_confirmation_date: Some("20261125".into()),
        medical_institution_code: Some("0110113719".into()),
        arbitrary_file_identifier: Some("bench".into()),
        ..Default::default()
    }
}

/// Every qualification's search keys (one per registry row, up to `limit`).
fn searches(db: &Path, limit: usize) -> Vec<SearchInfo> {
    let conn = rusqlite::Connection::open(db).expect("registry");
    let mut stmt = conn
        .prepare("SELECT q.insurer_number, q.symbol, q.number, q.branch, p.birthdate FROM qualifications q JOIN people p USING(person_id) ORDER BY q.id LIMIT ?1")
        .expect("query");
    stmt.query_map([limit as i64], |r| {
        Ok(SearchInfo {
            insurer_number: r.get(0)?,
            insured_card_symbol: r.get(1)?,
            insured_identification_number: r.get(2)?,
            insured_branch_number: r.get(3)?,
            birthdate: r.get(4)?,
            ..Default::default()
        })
    })
    .expect("rows")
    .collect::<Result<_, _>>()
    .expect("rows")
}

fn client(pki_dir: &Path) -> reqwest::Client {
    let l = PkiLayout::new(pki_dir);
    let (cert, key) = (l.clinic_client(), l.clinic_client_key());
    let tls = gateway::client_tls(&l.gateway_ca(), Some((cert.as_path(), key.as_path()))).expect("client TLS");
    reqwest::Client::builder().use_preconfigured_tls(tls).pool_max_idle_per_host(1).build().expect("client")
}

/// CPU time this process has used (user + system), from /proc (Linux); on a
/// shared machine it tells how much of the wall time was our own work.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the ")" that closes the command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The batch's gateway-side work done in-process on one registry
/// connection, step by step, so a change can be judged without the network.
fn breakdown(db: &Path, all: &[SearchInfo], encoding: Encoding) {
    let conn = rusqlite::Connection::open(db).expect("registry");
    let upload = Msg { header: header(), body: BatchUploadBody { searches: all.to_vec() } };
    let batch = onshi_sim::answer::PendingBatch { upload };
    let now = "20261125093000";
    let t = Instant::now();
    let units = onshi_sim::answer::batch_units(&conn, &batch.upload.header, &batch.upload.body.searches, now).expect("units");
    let looked_up = t.elapsed();
    let t = Instant::now();
    let written = onshi_sim::answer::written_batch(units, &batch, "R2026112500001", now, encoding);
    println!(
        "batch of {} in-process, one connection: registry answers {:.2} s, result document written ({:.1} MB, {encoding:?}) {:.2} s",
        all.len(),
        looked_up.as_secs_f64(),
        written.0.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let batch_size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    // The gateway's answer encoding: Shift_JIS (the interface default) unless "utf8".
    let encoding = if args.next().as_deref() == Some("utf8") { Encoding::Utf8 } else { Encoding::ShiftJis };

    let dir = std::env::temp_dir().join(format!("onshi-gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pki_dir = dir.join("pki");
    pki::init(&pki_dir, &PkiOptions { people: vec!["P0001".into()], ..Default::default() }).expect("pki");
    let db = dir.join("registry.db");
    let t = Instant::now();
    onshi_sim::registry::seed(&db, batch_size.max(onshi_sim::registry::MIN_PEOPLE), 1).expect("seed");
    eprintln!("registry of {} people seeded in {:.1} s", batch_size.max(onshi_sim::registry::MIN_PEOPLE), t.elapsed().as_secs_f64());
    let all = searches(&db, batch_size);
    breakdown(&db, &all, encoding);

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let mut opts = GatewayOptions::new(&db, &pki_dir);
        opts.batch_delay = Duration::ZERO;
        opts.encoding = encoding;
        let gw = Gateway::start(&opts).await.expect("gateway");
        let url = gw.url();

        // Individual checks: prebuilt requests, cycled by every client.
        let requests: Arc<Vec<Vec<u8>>> = Arc::new(
            all.iter()
                .take(1000)
                .map(|s| Message::IndividualRequest(Msg { header: header(), body: IndividualRequestBody { search: Some(s.clone()) } }).write(Encoding::ShiftJis))
                .collect(),
        );
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for k in 0..CLIENTS {
            let (c, url, requests) = (client(&pki_dir), format!("{url}/oqs/v1/OQSsiquc01req"), requests.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = k;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = c.post(&url).body(requests[i % requests.len()].clone()).send().await.expect("answer");
                    assert!(r.status().is_success(), "HTTP {}", r.status());
                    let body = r.bytes().await.expect("body");
                    lat.push(t.elapsed());
                    assert!(!body.is_empty());
                    i += CLIENTS;
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("client task"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        lat.sort();
        println!(
            "gateway individual checks: {} in {:.1} s with {CLIENTS} mTLS clients = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            elapsed,
            lat.len() as f64 / elapsed,
            percentile(&lat, 0.50).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
        );

        // Batch: upload N searches, then download until done (delay 0).
        let c = client(&pki_dir);
        let upload = Message::BatchUploadRequest(Msg { header: header(), body: BatchUploadBody { searches: all.clone() } }).write(Encoding::ShiftJis);
        let size = upload.len();
        let cpu0 = cpu_time();
        let t = Instant::now();
        let r = c.post(format!("{url}/oqs/v1/OQSmuquc01req")).body(upload).send().await.expect("upload");
        let ack = r.bytes().await.expect("ack");
        let uploaded = t.elapsed();
        let Message::BatchUploadResult(ack) = parse(&ack).expect("ack parses").message else { panic!("not an ack") };
        let reception = ack.body.reception_number.expect("reception number");
        let download = Message::BatchDownloadRequest(Msg {
            header: MessageHeader { reception_number: Some(reception), ..header() },
            body: ReceptionBody::default(),
        })
        .write(Encoding::ShiftJis);
        let mut polls = 0;
        let (received, result_size, units) = loop {
            polls += 1;
            let r = c.post(format!("{url}/oqs/v1/OQSmuquc02req")).body(download.clone()).send().await.expect("download");
            let bytes = r.bytes().await.expect("result");
            let (received, result_size) = (t.elapsed(), bytes.len());
            let Message::BatchDownloadResult(m) = parse(&bytes).expect("result parses").message else { panic!("not a batch result") };
            if m.header.segment_of_result == Some(SegmentOfResult::Normal) {
                break (received, result_size, m.body.units.len());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let total = t.elapsed();
        if let (Some(a), Some(b)) = (cpu0, cpu_time()) {
            println!("  CPU time used by client + gateway during the batch: {:.2} s (wall {:.2} s)", (b - a).as_secs_f64(), total.as_secs_f64());
        }
        println!(
            "  of which: result ({:.1} MB) received at {:.2} s (gateway answers + writes + sends), client-side parse {:.2} s",
            result_size as f64 / 1e6,
            received.as_secs_f64(),
            (total - received).as_secs_f64()
        );
        assert_eq!(units, all.len(), "one unit per search");
        println!(
            "gateway batch of {} ({:.1} MB upload, answers in {encoding:?}): upload answered in {:.2} s, all results downloaded and parsed in {:.2} s ({polls} download(s))",
            all.len(),
            size as f64 / 1e6,
            uploaded.as_secs_f64(),
            total.as_secs_f64(),
        );
        drop(gw);
    });
    let _ = std::fs::remove_dir_all(&dir);
}
