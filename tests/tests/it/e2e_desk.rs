//! Issue 8: the reception desk without a card, end to end with the demo's
//! real parts ([`onshi_tests::stack::Stack`]): the built page in headless
//! Chromium, the real extension, the helper as native-messaging host and
//! service, the simulator's mutual-TLS gateway over the seeded registry.
//! Everything goes through the page's own UI.
//!
//! One stack, the stories in order: an unpaired page is refused; pairing;
//! insurance-card checks that come back valid, invalid (lost qualification)
//! and no match; another origin cannot use this origin's pairing; a
//! 200-patient batch pre-check (CSV → report → submit → progress → results)
//! and its export (CSV and XML, as the page hands them to the browser); the
//! consented medication view of the person on screen; the helper service
//! killed mid-session, the page saying so, and a check working after it is
//! started again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use onshi_tests::browser::TempDir;
use onshi_tests::stack::Stack;
use onshi_tests::wait::{until, within};

use crate::desk;

#[tokio::test(flavor = "multi_thread")]
async fn e2e_desk_receptionist_stories() -> Result<()> {
    let mut s = within("start the whole stack", 120, Stack::start()).await?;
    let result = stories(&mut s).await;
    s.finish(result, "e2e-desk-failure").await
}

async fn stories(s: &mut Stack) -> Result<()> {
    within("an unpaired page is refused", 60, unpaired(s)).await?;
    within("pairing", 60, async { s.pair(true, None).await.map(|_| ()) }).await?;
    within("insurance-card checks: valid, invalid, no match, medical aid", 150, insurance_checks(s)).await?;
    within("a ● name: explained, kana large, the clinic's name kept", 120, replaced_name(s)).await?;
    within("another origin cannot use this pairing", 60, other_origin(s)).await?;
    within("a 200-patient batch pre-check and its export", 240, batch(s)).await?;
    within("the consented medication view", 90, medication(s)).await?;
    within("the helper killed mid-session, then started again", 120, helper_killed(s)).await?;
    Ok(())
}

/// The status strip lamp `id`'s light (`green`, `amber`, `red`, `grey`) once it is `want`.
async fn lamp(s: &Stack, id: &str, want: &str, secs: u64) -> Result<String> {
    let b = &s.browser;
    until(&format!("the {id} lamp is {want}"), secs, || async {
        let l = b.client.find(Locator::Css(&format!("#lamp-{id}"))).await?;
        let light = l.attr("data-light").await?.unwrap_or_default();
        Ok((light == want).then_some(format!("{} / {}", l.text().await?, l.attr("title").await?.unwrap_or_default())))
    })
    .await
}

/// Types a seeded case into the entry form and submits it.
async fn check(s: &Stack, case: &str) -> Result<()> {
    s.go("entry").await?;
    desk::fill_entry(&s.browser, &desk::probe(&s.paths.registry, case)?).await
}

async fn unpaired(s: &mut Stack) -> Result<()> {
    lamp(s, "extension", "green", 30).await?;
    let helper = lamp(s, "helper", "amber", 30).await?;
    ensure!(helper.contains("未ペアリング"), "the lamp says the page is not paired: {helper}");
    // The page knows it is not paired and says where to go, before sending anything.
    check(s, "valid").await?;
    let notice = s.text_containing("#entry-notice", "ペアリングを始める", 30).await?;
    ensure!(notice.contains("Start pairing"), "English second: {notice}");
    ensure!(!notice.contains("拡張機能とヘルパー"), "both are there; only the pairing is missing: {notice}");
    ensure!(s.browser.client.find(Locator::Css("#result-banner")).await.is_err(), "no result for an unpaired page");
    s.browser.screenshot("e2e-desk-unpaired-refused").await?;
    // And the helper itself refuses, whatever the page does: a request posted
    // straight to the extension (as a page that skips its own checks would).
    let reply = raw_request(s, r#"{"type": "today"}"#).await?;
    ensure!(reply["ok"] == false && reply["error"]["code"] == "not_paired", "{reply}");
    let ja = reply["error"]["message"]["ja"].as_str().unwrap_or_default();
    ensure!(ja.contains("ペアリング"), "the helper's refusal says what to do: {ja}");
    s.go("settings").await
}

/// Posts `body` to the extension from the page the way the wire contract
/// says (envelope.md §1) and returns the helper's reply object.
async fn raw_request(s: &Stack, body: &str) -> Result<serde_json::Value> {
    let js = format!(
        "const done = arguments[arguments.length - 1];
         const id = 'raw-' + Math.random().toString(36).slice(2);
         const on = (e) => {{
           if (e.source === window && e.data && e.data.dir === 'from-helper' && e.data.id === id) {{
             window.removeEventListener('message', on); done(e.data.reply);
           }}
         }};
         window.addEventListener('message', on);
         window.postMessage({{ onshi: 1, dir: 'to-helper', id, body: {body} }}, location.origin);
         setTimeout(() => done({{ timeout: true }}), 20000);"
    );
    Ok(s.browser.client.execute_async(&js, vec![]).await?)
}

async fn insurance_checks(s: &mut Stack) -> Result<()> {
    // The patient shows a 資格情報のお知らせ: named on the form, kept by the
    // helper with the result, and listed as such after a reload.
    s.go("entry").await?;
    s.browser.wait_for("#doc-eligibility_notice").await?.click().await?;
    s.text_containing("#document-hint", "マイナンバーカードと一緒に", 10).await?;
    desk::fill_entry(&s.browser, &desk::probe(&s.paths.registry, "valid")?).await?;
    let text = desk::outcome(&s.browser, "Valid", 30).await?;
    ensure!(text.contains("有効"), "{text}");
    s.text_containing("main#main", "資格情報のお知らせ", 10).await?;
    s.go("desk").await?;
    s.browser.wait_for("#desk-reload").await?.click().await?;
    s.text_containing(".today .document[data-document=eligibility_notice]", "資格情報のお知らせ", 15).await?;
    let today = raw_request(s, r#"{"type": "today"}"#).await?;
    let last = today["body"]["entries"].as_array().and_then(|e| e.last()).cloned().unwrap_or_default();
    ensure!(last["kind"] == "insurance" && last["document"] == "eligibility_notice", "the helper keeps the document: {}", last["document"]);
    lamp(s, "network", "green", 10).await?;
    s.browser.screenshot("e2e-desk-insurance-valid").await?;

    check(s, "lost_death").await?;
    let text = desk::outcome(&s.browser, "Invalid", 30).await?;
    ensure!(text.contains("無効"), "{text}");
    s.browser.screenshot("e2e-desk-insurance-invalid").await?;

    check(s, "no_match").await?;
    let text = desk::outcome(&s.browser, "NoMatch", 30).await?;
    ensure!(text.contains("該当"), "{text}");
    s.browser.screenshot("e2e-desk-insurance-no-match").await?;

    // Medical aid (validity 6): valid, check the 医療券; payer, recipient and office shown.
    check(s, "public_assistance").await?;
    let text = desk::outcome(&s.browser, "ValidUnregistered", 30).await?;
    ensure!(text.contains("医療券"), "{text}");
    let details = s.text_containing("main#main", "受給者番号", 10).await?;
    ensure!(details.contains("負担者番号 12") && details.contains("福祉事務所"), "payer, recipient and the issuing office: {details}");
    s.browser.screenshot("e2e-desk-medical-aid").await?;
    Ok(())
}

/// The registry's name (as the national register holds it: 𠮷田　髙志) and
/// the one results carry (●田　●志) of a seeded case's person.
fn registry_names(registry: &Path, case: &str) -> Result<(String, String)> {
    let conn = rusqlite::Connection::open(registry)?;
    Ok(conn.query_row("SELECT name, name_returned FROM people WHERE case_tag = ?1 ORDER BY person_id LIMIT 1", [case], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?)
}

/// Issue 14: a name the system sends with ●. The clinic's record (its
/// earlier result with the true spelling, loaded as a file) is compared
/// with the new result: the ● positions match anything, so the diff
/// proposes nothing, and the screen says what ● means with the kana large.
async fn replaced_name(s: &mut Stack) -> Result<()> {
    let (true_name, returned) = registry_names(&s.paths.registry, "name_outside_jis")?;
    ensure!(returned.contains('●') && !true_name.contains('●'), "the seeded person: {true_name} / {returned}");
    check(s, "name_outside_jis").await?;
    desk::outcome(&s.browser, "Valid", 30).await?;
    // The clinic's record: this same result as the gateway sent it, with the
    // name the clinic registered from the patient's documents.
    let today = raw_request(s, r#"{"type": "today"}"#).await?;
    let entries = today["body"]["entries"].as_array().context("today's entries")?;
    let xml = entries.iter().rev().filter_map(|e| e["xml"].as_str()).find(|x| x.contains(&returned)).context("the ● result in today's list")?;
    // The list carries text; say so in the declaration the file reader follows.
    let record = xml.replace(&returned, &true_name).replacen("Shift_JIS", "UTF-8", 1).replacen("shift_jis", "UTF-8", 1);
    let dir = TempDir::new("onshi-desk-record")?;
    let file = dir.0.join("clinic-record.xml");
    std::fs::write(&file, record.as_bytes())?;
    s.go("result").await?;
    s.browser.client.find(Locator::Css("#load-stored")).await?.send_keys(&file.display().to_string()).await?;
    s.text_containing("#result-diff", "読み込んだ登録内容", 30).await?;

    check(s, "name_outside_jis").await?;
    desk::outcome(&s.browser, "Valid", 30).await?;
    let alert = s.text_containing("#name-alert", "上書きしないでください", 30).await?;
    ensure!(alert.contains("資格確認システムが表せない字"), "what ● means, in plain Japanese: {alert}");
    ensure!(alert.contains("not overwrite"), "English second: {alert}");
    let b = &s.browser.client;
    let registered = b.find(Locator::Css("#name-registered")).await?.text().await?;
    ensure!(registered.contains(&true_name), "the clinic's spelling is named as the one to keep: {registered}");
    let kana = b.find(Locator::Css("#name-alert .kana-large")).await?.text().await?;
    ensure!(kana.contains("ヨシダ") && kana.contains("タカシ"), "the kana, large and full-width: {kana}");
    let marks = b.find_all(Locator::Css("#name-alert mark.replaced")).await?;
    ensure!(marks.len() == returned.matches('●').count(), "each ● marked: {}", marks.len());
    let diff = s.text_containing("#result-diff", "読み込んだ登録内容", 10).await?;
    ensure!(b.find_all(Locator::Css("#result-diff li[data-field=Name]")).await?.is_empty(), "no name change proposed: {diff}");
    ensure!(diff.contains("違いはありません") || b.find_all(Locator::Css("#result-diff li")).await?.is_empty(), "nothing to update: {diff}");
    // The name as received (● and all) is on the screen, in the details.
    let details = s.text_containing("table.details", &returned, 10).await.context("the name is shown as received")?;
    ensure!(details.contains(&format!("氏名 Name\n{returned}")) || details.contains(&format!("氏名 Name {returned}")), "the ● name sits in the 氏名 row: {details}");
    s.browser.screenshot("e2e-desk-name-replaced").await?;
    // The loaded record would be compared with every later patient: forget it.
    b.find(Locator::Css(".result .actions button:not(#print)")).await?.click().await?;
    until("the loaded record is forgotten", 10, || async {
        Ok(b.find(Locator::Css(".result .actions button:not(#print)")).await.is_err().then_some(()))
    })
    .await
}

/// The same page on `localhost` instead of `127.0.0.1` is another origin:
/// the helper does not know it, whatever the first origin did.
async fn other_origin(s: &mut Stack) -> Result<()> {
    let c = &s.browser.client;
    let other = s.origin.replace("127.0.0.1", "localhost");
    ensure!(other != s.origin, "the stack serves the page on 127.0.0.1: {}", s.origin);
    let tab = c.new_window(true).await?;
    c.switch_to_window(tab.handle).await?;
    c.set_window_size(1280, 900).await?;
    c.goto(&format!("{other}/#settings")).await?;
    let helper = lamp(s, "helper", "amber", 30).await?;
    ensure!(helper.contains("未ペアリング"), "{helper}");
    s.browser.screenshot("e2e-desk-other-origin-refused").await?;
    let reply = raw_request(s, r#"{"type": "status"}"#).await?;
    ensure!(reply["ok"] == false && reply["error"]["code"] == "not_paired", "{reply}");
    s.back_to_page().await?;
    // The first origin is still paired.
    check(s, "valid").await?;
    desk::outcome(&s.browser, "Valid", 30).await?;
    Ok(())
}

/// One batch CSV row per patient: the seeded registry's probes for each
/// case it can answer one way only, then current qualifications of ordinary
/// people, 200 rows in all; and the outcome code each row must come back with.
fn batch_csv(registry: &Path, appointment: &str) -> Result<(String, BTreeMap<String, usize>)> {
    let conn = rusqlite::Connection::open(registry)?;
    let mut csv = String::from("保険者番号,記号,番号,枝番,生年月日,氏名,予約日,患者ID\r\n");
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut n = 0usize;
    let mut row = |csv: &mut String, ins: &str, sym: Option<String>, num: &str, br: Option<String>, birth: &str, name: &str| {
        n += 1;
        let _ = write!(csv, "{ins},{},{num},{},{birth},{name},{appointment},B{n:04}\r\n", sym.unwrap_or_default(), br.unwrap_or_default());
    };
    // Validity → outcome code (domain.md §3): 1 valid, 2 invalid, 4 no match.
    let mut probes = conn.prepare(
        "SELECT insurer_number, symbol, number, branch, birthdate, expected_validity FROM probes
         WHERE expected_validity IN (1, 2, 4) AND expected_people <= 1 ORDER BY id",
    )?;
    let rows = probes.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, String>(4)?, r.get::<_, i64>(5)?))
    })?;
    for p in rows {
        let (ins, sym, num, br, birth, validity) = p?;
        let code = match validity {
            1 => "valid",
            2 => "invalid",
            _ => "no_match",
        };
        *expected.entry(code.into()).or_default() += 1;
        row(&mut csv, &ins, sym, &num, br, &birth, "照会 テスト");
    }
    let probes_used: usize = expected.values().sum();
    let mut people = conn.prepare(
        "SELECT q.insurer_number, q.symbol, q.number, q.branch, p.birthdate, p.name FROM qualifications q
         JOIN people p ON p.person_id = q.person_id
         WHERE p.case_tag IN ('valid', 'family_member') AND q.disqualification_date IS NULL
           AND (SELECT COUNT(*) FROM qualifications o WHERE o.person_id = q.person_id) = 1
         ORDER BY q.id LIMIT ?1",
    )?;
    let rows = people.query_map([(200 - probes_used) as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?))
    })?;
    for p in rows {
        let (ins, sym, num, br, birth, name) = p?;
        *expected.entry("valid".into()).or_default() += 1;
        // Names may hold commas nowhere, but quote them anyway as a CSV should.
        row(&mut csv, &ins, sym, &num, br, &birth, &format!("\"{}\"", name.replace('"', "\"\"")));
    }
    ensure!(n == 200, "the seeded registry gave {n} rows, not 200; seed more people");
    Ok((csv, expected))
}

/// Tomorrow in Japan, `YYYY-MM-DD` (the batch pre-check is the day before).
fn tomorrow() -> Result<String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    let t = onshi_helper::time::Timestamp::from_unix(now + 86_400, 540).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(t.day().as_str().to_owned())
}

/// Keeps what the page hands to the browser as downloads (the Blob behind
/// each export button), so the test reads the exported text itself.
const CAPTURE_EXPORTS: &str = "
  if (!window.__exports) {
    window.__exports = [];
    const original = URL.createObjectURL;
    URL.createObjectURL = function (blob) {
      blob.arrayBuffer().then((buf) => window.__exports.push({ type: blob.type, bytes: Array.from(new Uint8Array(buf)) }));
      return original.call(URL, blob);
    };
  }";

/// Clicks an export button and returns the bytes of the file it produced.
async fn export(s: &Stack, button: &str) -> Result<(String, Vec<u8>)> {
    let c = &s.browser.client;
    c.execute(CAPTURE_EXPORTS, vec![]).await?;
    let before = c.execute("return window.__exports.length", vec![]).await?.as_u64().unwrap_or(0);
    s.click(button).await?;
    let file = until(&format!("{button} hands a file to the browser"), 15, || async {
        let v = c.execute("return window.__exports", vec![]).await?;
        Ok(v.as_array().and_then(|a| a.get(before as usize)).cloned())
    })
    .await?;
    let bytes: Vec<u8> = file["bytes"].as_array().context("bytes")?.iter().map(|b| b.as_u64().unwrap_or(0) as u8).collect();
    Ok((file["type"].as_str().unwrap_or_default().to_owned(), bytes))
}

async fn batch(s: &mut Stack) -> Result<()> {
    let day = tomorrow()?;
    let (csv, expected) = batch_csv(&s.paths.registry, &day)?;
    let dir = TempDir::new("onshi-desk-batch")?;
    let path = dir.0.join("tomorrow.csv");
    std::fs::write(&path, &csv)?;

    s.go("batch").await?;
    let b = &s.browser;
    b.wait_for("#batch-file").await?.send_keys(&path.display().to_string()).await?;
    until("the import report lists 200 rows, none with errors", 30, || async {
        let r = b.client.find(Locator::Css("#batch-report")).await?;
        let (rows, errors) = (r.attr("data-rows").await?, r.attr("data-errors").await?);
        Ok((rows.as_deref() == Some("200") && errors.as_deref() == Some("0")).then_some(()))
    })
    .await?;
    let report = s.text("#batch-report").await?;
    ensure!(report.contains("200件中 送信できる行 200件"), "{report}");
    b.screenshot("e2e-desk-batch-report").await?;

    s.click("#batch-submit").await?;
    b.wait_for("#batch-progress").await?;
    // Progress: queued or processing is shown while the system works. The
    // helper asks the system again after 2 s, so a 200-patient batch may be
    // finished before the next look: then the results table has replaced it.
    let step = until("the progress shows the batch being worked on (or it is already done)", 30, || async {
        if let Ok(p) = b.client.find(Locator::Css("#batch-progress")).await {
            let step = p.attr("data-step").await.ok().flatten().unwrap_or_default();
            if ["1", "2", "3"].contains(&step.as_str()) {
                let text = p.text().await.unwrap_or_default();
                return Ok(Some((step, text)));
            }
        }
        let done = b.client.find(Locator::Css("#batch-results")).await.is_ok();
        Ok(done.then(|| ("done".to_string(), String::new())))
    })
    .await?;
    if step.0 != "done" {
        ensure!(!step.1.trim().is_empty(), "step {} says something", step.0);
        b.screenshot("e2e-desk-batch-progress").await?;
    }
    // The helper polls after 2 s, then doubling up to 30 s.
    until("the results table holds all 200 patients", 120, || async {
        let r = b.client.find(Locator::Css("#batch-results")).await?;
        Ok((r.attr("data-total").await?.as_deref() == Some("200")).then_some(()))
    })
    .await?;
    let summary = s.text("#batch-results .summary").await?;
    let problems = expected.iter().filter(|(k, _)| k.as_str() != "valid").map(|(_, v)| v).sum::<usize>();
    ensure!(summary.contains(&format!("200件中 要対応 {problems}件")), "{summary} (expected {expected:?})");
    // Problems are listed first.
    let first = b.wait_for("#batch-table .vrow").await?.attr("data-outcome").await?.unwrap_or_default();
    ensure!(first != "valid", "a problem row comes first, not {first}");
    b.screenshot("e2e-desk-batch-results").await?;

    // Export: the CSV holds one row per patient with the outcome code each must have.
    let (mime, bytes) = export(s, "#batch-export-csv").await?;
    ensure!(mime.starts_with("text/csv"), "{mime}");
    let text = String::from_utf8(bytes).context("the UTF-8 export is UTF-8")?;
    let text = text.strip_prefix('\u{feff}').context("the UTF-8 export starts with a BOM (for Excel)")?;
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header = lines.next().context("header")?;
    ensure!(header.starts_with("No,判定,判定コード,患者ID"), "{header}");
    let column = |name: &str| header.split(',').position(|h| h == name).with_context(|| format!("the {name} column in {header}"));
    let (name_at, flag_at) = (column("氏名")?, column("氏名注意")?);
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    let mut patients = Vec::new();
    let mut flagged = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        *got.entry(cells.get(2).copied().unwrap_or_default().to_owned()).or_default() += 1;
        patients.push(cells.get(3).copied().unwrap_or_default().to_owned());
        // A ● name is exported as received, and its row is flagged.
        let (name, flag) = (cells.get(name_at).copied().unwrap_or_default(), cells.get(flag_at).copied().unwrap_or_default());
        ensure!(name.contains('●') == flag.contains("●あり"), "name {name:?} flagged {flag:?}");
        flagged += usize::from(name.contains('●'));
    }
    ensure!(flagged >= 1, "the seeded ● name (case name_outside_jis) is in the batch and flagged");
    ensure!(got == expected, "outcome codes in the export {got:?}, expected {expected:?}");
    patients.sort();
    patients.dedup();
    ensure!(patients.len() == 200 && patients[0] == "B0001" && patients[199] == "B0200", "every patient id echoed once");

    let (mime, bytes) = export(s, "#batch-export-xml").await?;
    ensure!(mime == "application/xml", "{mime}");
    // The standard result document as received (XmlMsg, SegmentOfResult 1 =
    // complete), every patient's arbitrary id echoed in it.
    let xml = String::from_utf8_lossy(&bytes).into_owned();
    ensure!(xml.starts_with("<?xml") && xml.contains("<XmlMsg>") && xml.contains("<SegmentOfResult>1</SegmentOfResult>"), "{}", &xml[..xml.len().min(400)]);
    ensure!(xml.contains(">B0001<") && xml.contains(">B0200<"), "the patient ids are in the exported document");
    // Issue 14: byte for byte what the gateway sent (its request log keeps
    // each answer's length and SHA-256): Shift_JIS, as its declaration says.
    let sent = last_answer(&s.paths.gateway_requests, "/oqs/v1/OQSmuquc02req")?;
    ensure!(sent.0 == bytes.len() as u64 && sent.1 == onshi_sim::sent::sha256_hex(&bytes), "the exported XML is not the gateway's answer: {sent:?}, exported {} bytes", bytes.len());
    ensure!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""), "{}", &xml[..xml.len().min(80)]);

    // The results table marks those rows too; searching for ● finds them.
    desk::type_into(b, "batch-filter-text", "●").await?;
    let marked = until("the ● rows are listed and marked", 15, || async {
        let rows = b.client.find_all(Locator::Css("#batch-table .vrow")).await?;
        let mut marks = Vec::new();
        for r in &rows {
            marks.push(r.attr("data-name-flags").await?.unwrap_or_default());
        }
        Ok((!marks.is_empty() && marks.iter().all(|m| m.contains("●あり"))).then_some(marks.len()))
    })
    .await?;
    ensure!(marked == flagged, "{marked} marked rows on the page, {flagged} in the export");
    b.screenshot("e2e-desk-batch-name-flags").await?;
    desk::type_into(b, "batch-filter-text", "").await?;
    Ok(())
}

/// Length and SHA-256 of the body the gateway last answered on `path`
/// with HTTP 200 (its JSON-lines request log).
fn last_answer(log: &Path, path: &str) -> Result<(u64, String)> {
    let v = last_ok_line(log, path)?;
    Ok((v["body_bytes"].as_u64().context("no body_bytes")?, v["body_sha256"].as_str().context("no body_sha256")?.to_owned()))
}

/// The gateway's last HTTP 200 line for `path` (its JSON-lines request log).
fn last_ok_line(log: &Path, path: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["path"] == path && v["status"] == 200)
        .last()
        .with_context(|| format!("the gateway logged no answer on {path}"))
}

/// The seeded valid person consented to sharing medication and health
/// checks; the history screen for the person on screen shows those consents
/// (from the real result document) and offers to fetch.
async fn medication(s: &mut Stack) -> Result<()> {
    check(s, "valid").await?;
    desk::outcome(&s.browser, "Valid", 30).await?;
    s.go("history").await?;
    let part = s.text_containing("#medication", "同意あり", 20).await?;
    ensure!(part.contains("まで閲覧できます") && part.contains("viewable until"), "the consent and until when: {part}");
    s.browser.wait_for("#medication-fetch").await?;
    s.browser.screenshot("e2e-desk-history-consented").await?;
    Ok(())
}

/// The medication list itself, fetched through the whole chain, from a
/// home visit (issue 16): the receptionist (or the doctor with the laptop)
/// picks 訪問診療, checks by numbers, and views the medication list; the
/// page sends the setting, the helper puts it in `YZKsiquc01req` as
/// MedicalTreatmentFlag 2 (the gateway's request log shows it), keeps it with
/// the result and the audit line. Then 外来 again, and オンライン診療 on the card
/// panel: no card check can start, and the page says to check by numbers.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_desk_home_visit_medication_list() -> Result<()> {
    let s = within("start the whole stack", 120, Stack::start()).await?;
    let result = async {
        s.pair(true, None).await?;
        home_visit_medication_list(&s).await?;
        online_has_no_card_check(&s).await
    }
    .await;
    s.finish(result, "e2e-desk-medication-failure").await
}

async fn home_visit_medication_list(s: &Stack) -> Result<()> {
    s.go("entry").await?;
    s.browser.wait_for("#treatment-home_visit").await?.click().await?;
    s.text_containing("#treatment-hint", "患者さんのお宅", 10).await?;
    s.browser.screenshot("e2e-desk-home-visit-entry").await?;
    desk::fill_entry(&s.browser, &desk::probe(&s.paths.registry, "valid")?).await?;
    desk::outcome(&s.browser, "Valid", 30).await?;
    let details = s.text_containing("main#main", "診療の場", 10).await?;
    ensure!(details.contains("訪問診療"), "the result names the setting: {details}");
    s.go("history").await?;
    s.text_containing("#history-treatment", "訪問診療として照会", 10).await?;
    s.click("#medication-fetch").await?;
    let list = s.text("#medication-list").await?;
    ensure!(list.contains('年') && list.contains('月'), "months are shown: {list}");
    s.browser.screenshot("e2e-desk-medication").await?;
    let flag = last_logged(&s.paths.gateway_requests, "/oqs/v1/YZKsiquc01req", "treatment_flag")?;
    ensure!(flag == "2", "the viewing request carried MedicalTreatmentFlag 2 (home visit), the gateway logged {flag:?}");
    // The helper keeps the setting with the result, and audits both lines with it.
    let today = raw_request(s, r#"{"type": "today"}"#).await?;
    let last = today["body"]["entries"].as_array().and_then(|e| e.last()).cloned().unwrap_or_default();
    ensure!(last["kind"] == "insurance" && last["treatment"] == "home_visit", "the helper keeps the setting: {last}");
    let audit = audit_details(&s.paths.store)?;
    let visits = audit.iter().filter(|d| d["treatment"] == "home_visit").map(|d| d["query"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>();
    ensure!(visits.contains(&"insurance_card".into()) && visits.contains(&"medication".into()), "both queries audited as a home visit: {visits:?}");
    s.go("desk").await?;
    s.browser.wait_for("#desk-reload").await?.click().await?;
    s.text_containing(".today .treatment-badge[data-treatment=home_visit]", "訪問診療", 15).await?;
    s.browser.screenshot("e2e-desk-home-visit-today").await?;
    Ok(())
}

async fn online_has_no_card_check(s: &Stack) -> Result<()> {
    s.go("card").await?;
    s.browser.wait_for("#treatment-online").await?.click().await?;
    let notice = s.text_containing("#card-online", "番号で確認", 10).await?;
    ensure!(notice.contains("オンライン診療"), "{notice}");
    let start = s.browser.wait_for("#card-start").await?;
    ensure!(start.attr("disabled").await?.is_some(), "no card check can start in an online consultation");
    s.browser.screenshot("e2e-desk-online-card").await?;
    // The helper refuses it too, whatever a page sends.
    let refused = raw_request(s, r#"{"type": "card_confirm", "mode": "visual", "treatment": "online"}"#).await?;
    ensure!(refused["ok"] == false && refused["error"]["code"] == "invalid_argument", "the helper refuses a card check online: {refused}");
    s.browser.wait_for("#treatment-outpatient").await?.click().await?;
    Ok(())
}

/// Every audit line's detail, read from the helper's own database (read
/// only; the service keeps writing beside it).
fn audit_details(store: &Path) -> Result<Vec<serde_json::Value>> {
    let db = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = db.prepare("SELECT detail FROM audit ORDER BY seq")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row?)?);
    }
    Ok(out)
}

/// The value of `field` in the gateway's last HTTP 200 line for `path`.
fn last_logged(log: &Path, path: &str, field: &str) -> Result<String> {
    let v = last_ok_line(log, path)?;
    v[field].as_str().map(str::to_owned).with_context(|| format!("the gateway logged no {field} on {path}"))
}

async fn helper_killed(s: &mut Stack) -> Result<()> {
    s.kill_helper()?;
    // The receptionist tries a check: it fails, saying what is wrong and what to do.
    check(s, "valid").await?;
    let notice = s.text("#entry-notice").await?;
    ensure!(notice.contains("ヘルパー"), "the notice names the helper: {notice}");
    let helper = lamp(s, "helper", "red", 30).await?;
    ensure!(helper.contains("停止") && helper.contains("再接続"), "the lamp says the helper stopped, and what happens next: {helper}");
    s.browser.screenshot("e2e-desk-helper-down").await?;

    s.restart_helper()?;
    s.go("settings").await?;
    s.click("#recheck").await?;
    lamp(s, "helper", "green", 40).await?;
    check(s, "valid").await?;
    desk::outcome(&s.browser, "Valid", 30).await?;
    s.browser.screenshot("e2e-desk-helper-back").await?;
    Ok(())
}
