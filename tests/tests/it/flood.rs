//! Issue 15: the open web cannot wear the helper down. With the whole stack
//! running ([`Stack`]: the page in Chromium, the extension, the helper
//! service, pcscd + a virtual card, the gateway), a second native-host
//! connection sends 2,000 `pair_begin` from 50 unpaired origins while the
//! paired page does a PIN card check. Afterwards:
//!
//! - the card check answered with a valid result;
//! - at most 10 pairing windows were opened by the flood and every other
//!   request was refused (`rate_limited`), never stored: the pairings table
//!   holds the page's one pairing, the audit log grew by at most
//!   [`AUDIT_BOUND`] entries and the store file by at most [`BYTES_BOUND`];
//! - `onshi-helper audit verify` passes.
//!
//! Timing is not asserted here: `cargo xtask bench helper` measures the
//! card check during a flood against one without it (docs/benchmarks.md).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use onshi_helper::store::Store;
use onshi_tests::stack::Stack;
use onshi_tests::wait::within;

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
const PERSON: &str = "P0001";
const PIN: &str = "7395";
const FLOOD: usize = 2000;
const ORIGINS: usize = 50;
/// Audit entries the flood may add: pairing begins (at most 10 at once)
/// plus one line per origin and error code, at most six a minute in all.
const AUDIT_BOUND: u64 = 60;
/// Store growth the flood may cause, WAL included (each entry is ~0.5 KB;
/// SQLite pages round it up).
const BYTES_BOUND: u64 = 256 * 1024;

/// What the flood saw.
#[derive(Debug, Default)]
struct Seen {
    begun: usize,
    rate_limited: usize,
    other: Vec<String>,
}

fn frame(conn: &mut UnixStream, payload: &str) -> Result<()> {
    conn.write_all(&u32::try_from(payload.len())?.to_be_bytes())?;
    conn.write_all(payload.as_bytes())?;
    Ok(())
}

fn read(conn: &mut UnixStream) -> Result<serde_json::Value> {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    conn.read_exact(&mut body)?;
    Ok(serde_json::from_slice(&body)?)
}

/// 2,000 `pair_begin` from 50 origins through a native host's link, each
/// sent as soon as the last is answered.
fn flood(socket: &std::path::Path) -> Result<Seen> {
    let mut conn = UnixStream::connect(socket).context("connect to the service")?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    frame(&mut conn, &format!(r#"{{"relay":1,"browser":"chromium","extension_id":"{EXT}"}}"#))?;
    let mut seen = Seen::default();
    for i in 0..FLOOD {
        let id = format!("f{i}");
        frame(&mut conn, &format!(r#"{{"v":1,"id":"{id}","origin":"https://flood{}.example","via":"page","body":{{"type":"pair_begin"}}}}"#, i % ORIGINS))?;
        let reply = loop {
            let f = read(&mut conn)?;
            if f["id"] == id.as_str() {
                break f;
            }
        };
        match (reply["ok"].as_bool(), reply["error"]["code"].as_str()) {
            (Some(true), _) => seen.begun += 1,
            (_, Some("rate_limited")) => seen.rate_limited += 1,
            _ => seen.other.push(reply.to_string()),
        }
    }
    Ok(seen)
}

fn store_size(store: &std::path::Path) -> u64 {
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = store.as_os_str().to_owned();
    wal.push("-wal");
    size(store.to_owned()) + size(wal.into())
}

#[tokio::test(flavor = "multi_thread")]
async fn flood_of_unpaired_pair_begin_is_refused_and_the_paired_page_still_checks() -> Result<()> {
    let mut s = within("start the whole stack", 120, Stack::start()).await?;
    let result = async {
        within("pairing approved", 60, async { s.pair(true, None).await.map(|_| ()) }).await?;
        s.insert_card(PERSON, PIN, 3).await?;
        let (store, socket) = (s.paths.store.clone(), s.paths.socket.clone());
        let (audit_before, bytes_before) = (Store::open(&store)?.verify_audit()?.entries, store_size(&store));

        let flooding = std::thread::spawn(move || flood(&socket));
        // The paired page's PIN card check, while the flood runs.
        within("card check during the flood", 90, async {
            s.start_card_check(false).await?;
            s.open_extension_window("pin.html#").await?;
            s.type_pin(PIN).await?;
            s.back_to_page().await?;
            let (outcome, text) = s.result(60).await?;
            ensure!(outcome == "Valid", "outcome {outcome}: {text}");
            Ok(())
        })
        .await?;
        let seen = flooding.join().map_err(|_| anyhow::anyhow!("the flood thread panicked"))??;

        ensure!(seen.other.is_empty(), "unexpected answers to the flood: {:?}", &seen.other[..seen.other.len().min(3)]);
        ensure!(seen.begun <= 10, "{} pairing windows opened for the flood", seen.begun);
        ensure!(seen.begun + seen.rate_limited == FLOOD, "{seen:?}");
        let db = Store::open(&store)?;
        let pairings = db.pairings()?;
        ensure!(pairings.len() == 1, "{} pairing rows after the flood (only the page's own is kept)", pairings.len());
        let audit_added = db.verify_audit()?.entries - audit_before;
        ensure!(audit_added <= AUDIT_BOUND, "the flood added {audit_added} audit entries (bound {AUDIT_BOUND})");
        let grown = store_size(&store).saturating_sub(bytes_before);
        ensure!(grown <= BYTES_BOUND, "the store grew by {grown} bytes (bound {BYTES_BOUND})");
        let verify = Command::new(&s.paths.helper).arg("--store").arg(&store).args(["audit", "verify"]).output()?;
        if !verify.status.success() {
            bail!("audit verify failed: {}", String::from_utf8_lossy(&verify.stderr));
        }
        eprintln!(
            "flood: {} pairing windows, {} rate_limited; audit +{audit_added}, store +{grown} bytes",
            seen.begun, seen.rate_limited
        );
        Ok(())
    }
    .await;
    s.finish(result, "flood-failure").await
}
