//! Demo data for `?page=batch` / `?page=history` (screenshots, benchmarks,
//! browser tests) and the native reducer tests. Deterministic; invented
//! people only. Not used by the real flows, which get data from the helper.

use std::fmt::Write;

use onshi_core::codes::ConsentFlag;
use onshi_core::message::Qualification;

/// Six appointments: four good rows, one wrong check digit, one 平成 date
/// after the era ended (UTF-8 with a BOM, as spreadsheet exports are; the
/// browser test reads the same rows as Shift_JIS).
pub const APPOINTMENTS_CSV: &str = concat!("\u{FEFF}", include_str!("demo_appointments.csv"));

const FAMILY: [&str; 10] = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤"];
const GIVEN: [&str; 10] = ["太郎", "花子", "一郎", "美咲", "健", "さくら", "翔", "結衣", "大輔", "陽菜"];

/// A batch result (`OQSmuquc02res`) with `n` units: mostly valid, with every
/// problem kind spread through (1 in 20 no match, invalid, error, newer).
pub fn batch_results_xml(n: usize) -> String {
    let mut x = String::with_capacity(n * 700 + 512);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
<ProcessExecutionTime>20250401180000</ProcessExecutionTime><QualificationConfirmationDate>20250402</QualificationConfirmationDate>\
<MedicalInstitutionCode>0110113719</MedicalInstitutionCode><SegmentOfResult>1</SegmentOfResult>\
<ReceptionNumber>R0000001</ReceptionNumber>");
    let _ = write!(x, "<NumberOfProcessingResult>{n}</NumberOfProcessingResult>");
    x.push_str("</MessageHeader><MessageBody><ProcessingResultStatus>1</ProcessingResultStatus>");
    for i in 1..=n {
        let id = format!("P{i:05}");
        let number = format!("{:08}", 10_000_000 + i);
        let birth = format!("19{:02}{:02}{:02}", 30 + i % 60, 1 + i % 12, 1 + i % 28);
        let name = format!("{} {}", FAMILY[i % 10], GIVEN[(i / 10) % 10]);
        let _ = write!(x, "<BulkConfirmUnit><QualificationConfirmSearchInfo><InsurerNumber>39131156</InsurerNumber>\
<InsuredIdentificationNumber>{number}</InsuredIdentificationNumber><Birthdate>{birth}</Birthdate>\
<ArbitraryIdentifier>{id}</ArbitraryIdentifier></QualificationConfirmSearchInfo>");
        let found = |validity: &str, extra: &str| format!(
            "<ProcessingResultStatus>1</ProcessingResultStatus><QualificationValidity>{validity}</QualificationValidity>\
<ResultOfQualificationConfirmation><InsurerNumber>39131156</InsurerNumber><InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>\
<Name>{name}</Name><Birthdate>{birth}</Birthdate><InsuredPartialContributionRatio>010</InsuredPartialContributionRatio>\
<InsurerName>東京都後期高齢者医療広域連合</InsurerName><QualificationDate>20200401</QualificationDate>{extra}\
<ArbitraryIdentifier>{id}</ArbitraryIdentifier></ResultOfQualificationConfirmation>");
        match i % 20 {
            3 => x.push_str("<ProcessingResultStatus>1</ProcessingResultStatus><QualificationValidity>4</QualificationValidity>"),
            7 => x.push_str(&found("2", "<DisqualificationDate>20250331</DisqualificationDate><ReasonOfLoss>2</ReasonOfLoss>")),
            11 => x.push_str("<ProcessingResultStatus>2</ProcessingResultStatus><ProcessingResultCode>EMUQ0102</ProcessingResultCode>\
<ProcessingResultMessage>生年月日の形式に誤りがあります</ProcessingResultMessage>"),
            17 => x.push_str(&found("3", "")),
            _ => x.push_str(&found("1", "")),
        }
        x.push_str("</BulkConfirmUnit>");
    }
    x.push_str("</MessageBody></XmlMsg>");
    x
}

/// A qualification whose medication and health-check consents are given
/// until `until` (`YYYYMMDDHHmmss`).
pub fn consenting(until: &str) -> Qualification {
    Qualification {
        name: Some("山田 太郎".into()),
        pharmacists_consent: Some(ConsentFlag::Given),
        pharmacists_available_time: Some(until.into()),
        checkup_consent: Some(ConsentFlag::Given),
        checkup_available_time: Some(until.into()),
        ..Default::default()
    }
}

/// A medication result (`YZKsiquc01res`): two months, three dispensing days
/// (two of them on the same date at different pharmacies).
pub const MEDICATION_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>
<ProcessExecutionTime>20250401100000</ProcessExecutionTime></MessageHeader><MessageBody>
<ResultCode>1</ResultCode><MedicationInfoList>
<MonthlyMedicationInfo><DispensingYearMonth>202502</DispensingYearMonth>
 <DispensingDateInfo><DispensingDate>20250210</DispensingDate><DispensingInstitutionName>さくら薬局</DispensingInstitutionName>
  <DrugInfo><DrugName>アムロジピン錠5mg</DrugName><Quantity>1</Quantity><Unit>錠</Unit><Usage>1日1回朝食後</Usage><DosageDays>28</DosageDays></DrugInfo></DispensingDateInfo>
</MonthlyMedicationInfo>
<MonthlyMedicationInfo><DispensingYearMonth>202503</DispensingYearMonth>
 <DispensingDateInfo><DispensingDate>20250310</DispensingDate><DispensingInstitutionName>さくら薬局</DispensingInstitutionName>
  <DrugInfo><DrugName>アムロジピン錠5mg</DrugName><Quantity>1</Quantity><Unit>錠</Unit><Usage>1日1回朝食後</Usage><DosageDays>28</DosageDays></DrugInfo>
  <DrugInfo><DrugName>ロキソプロフェンNa錠60mg</DrugName><Quantity>3</Quantity><Unit>錠</Unit><Usage>1日3回毎食後</Usage><DosageDays>5</DosageDays></DrugInfo></DispensingDateInfo>
 <DispensingDateInfo><DispensingDate>20250310</DispensingDate><DispensingInstitutionName>みどり薬局</DispensingInstitutionName>
  <DrugInfo><DrugName>レバミピド錠100mg</DrugName><Quantity>3</Quantity><Unit>錠</Unit><Usage>1日3回毎食後</Usage><DosageDays>5</DosageDays></DrugInfo></DispensingDateInfo>
</MonthlyMedicationInfo>
</MedicationInfoList></MessageBody></XmlMsg>"#;

/// A specific health-check result (`TKKsiquc01res`) with one check.
pub const CHECKUP_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>
<ProcessExecutionTime>20250401100000</ProcessExecutionTime></MessageHeader><MessageBody>
<ResultCode>1</ResultCode><SpecificHealthCheckupInfoList><SpecificHealthCheckupInfo>
<ImplementationDate>20240615</ImplementationDate><ImplementingInstitutionName>中央健診センター</ImplementingInstitutionName>
<CheckupItemInfo><ItemCode>9N001000000000001</ItemCode><ItemName>身長</ItemName><ResultValue>168.2</ResultValue><Unit>cm</Unit></CheckupItemInfo>
<CheckupItemInfo><ItemCode>9N006000000000001</ItemCode><ItemName>腹囲</ItemName><ResultValue>91.0</ResultValue><Unit>cm</Unit><Judgement>要注意</Judgement></CheckupItemInfo>
<CheckupItemInfo><ItemCode>9A751000000000001</ItemCode><ItemName>収縮期血圧</ItemName><ResultValue>142</ResultValue><Unit>mmHg</Unit><Judgement>要注意</Judgement></CheckupItemInfo>
<CheckupItemInfo><ItemCode>3D045000001906202</ItemCode><ItemName>HbA1c</ItemName><ResultValue>5.8</ResultValue><Unit>%</Unit></CheckupItemInfo>
</SpecificHealthCheckupInfo></SpecificHealthCheckupInfoList></MessageBody></XmlMsg>"#;

/// A year of a busy clinic for `?page=usage`: about 200 checks a weekday
/// (half on Saturdays, none on Sundays), the card's share rising through the
/// year, deterministic so screenshots repeat. Counts only; the reply is
/// built by the core as the helper builds it.
pub fn usage_reply(query: &onshi_core::usage::UsageQuery) -> Option<onshi_core::usage::UsageReply> {
    use onshi_core::usage::{Method, UsageReply};
    use onshi_core::wareki::Date;
    let (from, to) = query.days().ok()?;
    let mut rows = Vec::new();
    for n in from.days()..=to.days() {
        let day = Date::from_days(n);
        let weekday = (n + 4).rem_euclid(7);
        let base: u32 = match weekday {
            0 => continue,
            6 => 100,
            _ => 200,
        };
        // A small hash of the day, so days differ a little.
        let h = (n as u64).wrapping_mul(2_654_435_761) % 41;
        let total = base - 20 + h as u32;
        let card_pct = 30 + (u32::from(day.month()) + 12 - 1) % 12 + (h % 5) as u32;
        let card = total * card_pct / 100;
        let rest = total - card;
        let yyyymmdd = day.yyyymmdd();
        let split = [
            (Method::Face, card * 55 / 100),
            (Method::CardPin, card * 35 / 100),
            (Method::CardVisual, card - card * 55 / 100 - card * 35 / 100),
            (Method::Certificate, rest * 50 / 100),
            (Method::Notice, rest * 20 / 100),
            (Method::InsuranceCard, rest * 25 / 100),
            (Method::NumbersUnrecorded, rest - rest * 50 / 100 - rest * 20 / 100 - rest * 25 / 100),
        ];
        rows.extend(split.into_iter().map(|(m, c)| (yyyymmdd.clone(), m, c)));
    }
    Some(UsageReply::from_rows(query, rows))
}

/// Pages with demo data for `?page=…`, standing in for the shell: they
/// answer `on_submit` with a simulated queue → processing → done.
pub mod pages {
    use std::rc::Rc;
    use std::time::Duration;

    use onshi_core::protocol::{BatchInfo, BatchState, BatchSubmit};
    use yew::prelude::*;

    use crate::batch::BatchPage;
    use crate::history::HistoryPage;

    /// `?page=batch` (add `&results=N` to start with N result rows, as the
    /// benchmark does).
    #[derive(Properties, PartialEq)]
    pub struct BatchDemoProps {
        #[prop_or_default]
        pub results: Option<usize>,
    }

    #[function_component(BatchDemo)]
    pub fn batch_demo(p: &BatchDemoProps) -> Html {
        let status = use_state(|| None::<BatchInfo>);
        let xml = use_state(|| p.results.map(|n| AttrValue::from(super::batch_results_xml(n))));
        let on_submit = {
            let (status, xml) = (status.clone(), xml.clone());
            Callback::from(move |submit: BatchSubmit| {
                let total = submit.entries.len() as u32;
                let info = move |state| BatchInfo {
                    batch_id: "demo".into(), state, submitted_at: "2025-04-01T18:00:00+09:00".into(),
                    reception_number: None, total, error: None,
                };
                status.set(Some(info(BatchState::Queued)));
                let (status, xml, n) = (status.clone(), xml.clone(), submit.entries.len());
                yew::platform::spawn_local(async move {
                    yew::platform::time::sleep(Duration::from_millis(600)).await;
                    status.set(Some(info(BatchState::Processing)));
                    yew::platform::time::sleep(Duration::from_millis(1200)).await;
                    status.set(Some(info(BatchState::Done)));
                    xml.set(Some(AttrValue::from(super::batch_results_xml(n.max(1)))));
                });
            })
        };
        html! { <BatchPage on_submit={on_submit} status={(*status).clone()} results_xml={(*xml).clone()} /> }
    }

    /// `?page=history` (`&consent=expired` or `none` for the blocked views).
    #[derive(Properties, PartialEq)]
    pub struct HistoryDemoProps {
        pub consent: AttrValue,
    }

    #[function_component(HistoryDemo)]
    pub fn history_demo(p: &HistoryDemoProps) -> Html {
        let mut q = super::consenting("20250501000000");
        match p.consent.as_str() {
            "expired" => q.pharmacists_available_time = Some("20250301000000".into()),
            "none" => {
                q.pharmacists_consent = Some(onshi_core::codes::ConsentFlag::None);
                q.checkup_consent = Some(onshi_core::codes::ConsentFlag::None);
            }
            _ => {}
        }
        let medication = use_state(|| None::<AttrValue>);
        let on_fetch = {
            let medication = medication.clone();
            Callback::from(move |()| medication.set(Some(AttrValue::Static(super::MEDICATION_XML))))
        };
        html! {
            <HistoryPage qualification={Rc::new(q)} now="20250401120000"
                medication_xml={(*medication).clone()} checkup_xml={AttrValue::Static(super::CHECKUP_XML)}
                on_fetch_medication={on_fetch} />
        }
    }

    /// `?page=usage`: the 利用状況 screen over [`super::usage_reply`], "now"
    /// fixed at the end of November 2026 so the screenshot repeats.
    #[function_component(UsageDemo)]
    pub fn usage_demo() -> Html {
        const NOW: &str = "20261130120000";
        let month = use_state(String::new);
        let view = crate::state::UsageView { month: (*month).clone(), ..Default::default() };
        let reply = view.query(NOW).and_then(|q| super::usage_reply(&q));
        let view = crate::state::UsageView { reply: reply.clone(), ..view };
        let on_month = Callback::from(move |m: String| month.set(m));
        let on_csv = Callback::from(move |()| {
            if let Some(r) = &reply {
                crate::app::save_usage_csv(r);
            }
        });
        html! { <crate::components::UsagePage lang={crate::i18n::Lang::Ja} view={view} now={NOW} on_month={on_month} on_reload={Callback::noop()} on_csv={on_csv} /> }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_usage_demo_is_a_busy_year_without_sundays() {
        let q = onshi_core::usage::UsageQuery { from: "20251201".into(), to: "20261130".into() };
        let r = super::usage_reply(&q).unwrap();
        assert_eq!(r.months.len(), 12);
        assert!(r.days.len() > 300 && r.days.len() < 320, "{}", r.days.len());
        assert!(r.days.iter().all(|d| crate::state::usage::weekday(&d.day) != Some(0)));
        let rate = r.total().rate();
        assert!(rate.per_mille().is_some_and(|m| (300..=500).contains(&m)), "{}", rate.percent_text());
    }
}
