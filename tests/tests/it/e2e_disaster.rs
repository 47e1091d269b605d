//! Issue 16, disaster mode, through the demo's real parts
//! ([`onshi_tests::stack::Stack`]: the built page in headless Chromium, the
//! extension, the helper service, the simulator's gateway with its
//! declaration file). With nothing declared the 災害時 search is not on the
//! page at all; once the simulated national system declares a disaster
//! covering the clinic's prefecture today, a search by kana, birth date and
//! sex shows the person's medication records under the red banner, and the
//! helper's audit log holds the view with its reason (and not the name).
//! When the declaration has ended, the same search is refused by the helper
//! and the page says why.

use anyhow::{ensure, Context, Result};
use fantoccini::Locator;
use onshi_tests::stack::Stack;
use onshi_tests::wait::{until, within};

use crate::desk::type_into;

#[tokio::test(flavor = "multi_thread")]
async fn e2e_disaster_search_only_while_declared_and_audited() -> Result<()> {
    let mut s = within("start the whole stack", 120, Stack::start()).await?;
    let result = story(&mut s).await;
    s.finish(result, "e2e-disaster-failure").await
}

/// Waits until the page says what the helper last answered about disaster mode.
async fn disaster_mark(s: &Stack, want: &str) -> Result<()> {
    until(&format!("disaster mode {want}"), 30, || async {
        let main = s.browser.client.find(Locator::Css("main#main")).await?;
        Ok((main.attr("data-disaster").await?.as_deref() == Some(want)).then_some(()))
    })
    .await
}

/// Someone the registry alone holds with their kana, birth date and sex, who
/// has medication records: (kana, birth date, sex code).
fn someone(registry: &std::path::Path) -> Result<(String, String, String)> {
    let conn = rusqlite::Connection::open(registry)?;
    Ok(conn.query_row(
        "SELECT name_kana, birthdate, sex FROM people p
          WHERE EXISTS (SELECT 1 FROM medications m WHERE m.person_id = p.person_id)
            AND (SELECT count(*) FROM people o WHERE o.birthdate = p.birthdate AND o.sex = p.sex) = 1
          ORDER BY person_id LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// Today in Japan, `YYYYMMDD`: the day the helper and the gateway judge on.
fn today_jst() -> String {
    onshi_sim::folder::now_jst()[..8].to_string()
}

/// The helper store's `disaster_view` audit entries: (outcome, detail).
fn disaster_audits(store: &std::path::Path) -> Result<Vec<(String, String)>> {
    let conn = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("SELECT outcome, detail FROM audit WHERE kind = 'disaster_view' ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<(String, String)>, _>>()?;
    Ok(rows)
}

/// Fills the 災害時 form by keyboard and mouse as a person would, and sends it.
async fn search(s: &Stack, kana: &str, birth: &str, sex: &str) -> Result<()> {
    let b = &s.browser;
    type_into(b, "disaster-kana", kana).await?;
    type_into(b, "disaster-birth", birth).await?;
    s.click(if sex == "2" { "#disaster-sex-female" } else { "#disaster-sex-male" }).await?;
    s.click("#disaster-reason option[value='disaster_area_visit']").await?;
    s.click("#disaster-search").await
}

async fn story(s: &mut Stack) -> Result<()> {
    within("pairing", 60, async { s.pair(true, None).await.map(|_| ()) }).await?;
    let (kana, birth, sex) = someone(&s.paths.registry)?;
    let b = &s.browser.client;

    // Nothing declared: the helper says closed and the page offers nothing.
    s.go("history").await?;
    disaster_mark(s, "closed").await?;
    ensure!(b.find_all(Locator::Css("#disaster, #disaster-form")).await?.is_empty(), "no declaration, yet the 災害時 search is shown");
    s.browser.screenshot("e2e-disaster-none").await?;

    // The national system declares a disaster for Hokkaido (the test clinic's
    // prefecture, 01) covering today; the history screen asks again on opening.
    let today = today_jst();
    s.declare_disaster(&format!("# 令和の豪雪（テスト）\n01:{today}-{today}\n"))?;
    s.go("entry").await?;
    s.go("history").await?;
    disaster_mark(s, "open").await?;
    let banner = s.text_containing("#disaster-banner", "災害時の特例", 20).await?;
    ensure!(banner.contains("災害救助法") && banner.contains("適用期間"), "the banner says why and when: {banner}");

    // A reason is required: without one nothing is sent.
    type_into(&s.browser, "disaster-kana", &kana).await?;
    type_into(&s.browser, "disaster-birth", &birth).await?;
    s.click(if sex == "2" { "#disaster-sex-female" } else { "#disaster-sex-male" }).await?;
    s.click("#disaster-search").await?;
    s.text_containing("#disaster-problems", "理由", 10).await?;
    ensure!(disaster_audits(&s.paths.store)?.is_empty(), "a search without a reason reached the helper");

    within("a card-less search by kana, birth date and sex", 60, async {
        search(s, &kana, &birth, &sex).await?;
        s.browser.wait_for("#disaster-result[data-state='person'] #medication-list").await?;
        let shown = s.text("#disaster-result").await?;
        ensure!(shown.contains("災害時の特例"), "the records stand under the red banner: {shown}");
        Ok(())
    })
    .await?;
    s.browser.screenshot("e2e-disaster").await?;

    // Audited with its reason, per history fetched; never the name or birth date typed.
    let audits = disaster_audits(&s.paths.store)?;
    ensure!(audits.len() == 2 && audits.iter().all(|(o, _)| o == "ok"), "two views audited: {audits:?}");
    for (_, detail) in &audits {
        ensure!(detail.contains(r#""reason":"disaster_area_visit""#) && detail.contains(r#""by":"name_birth_sex""#), "{detail}");
        ensure!(!detail.contains(kana.as_str()) && !detail.contains(birth.as_str()), "the audit holds what was typed: {detail}");
    }
    ensure!(audits[0].1.contains(r#""history":"medication""#) && audits[0].1.contains(r#""found":"person""#), "{:?}", audits[0]);

    // The declaration has ended (the system now holds only a past period):
    // the page still shows the form, but the helper refuses and says why.
    s.declare_disaster("01:20200101-20200131\n")?;
    search(s, &kana, &birth, &sex).await?;
    let refused = s.text_containing("#disaster-error", "期間", 30).await?;
    ensure!(refused.contains("令和2年1月31日"), "the refusal names the ended period: {refused}");
    disaster_mark(s, "closed").await?;
    ensure!(b.find_all(Locator::Css("#disaster-form, #disaster-result")).await?.is_empty(), "the form and the records are gone once refused");
    s.browser.screenshot("e2e-disaster-ended").await?;
    let audits = disaster_audits(&s.paths.store)?;
    let last = audits.last().context("the refusal is audited")?;
    ensure!(last.0 == "refused" && last.1.contains("disaster_closed"), "the refusal audited: {last:?}");
    Ok(())
}
