//! Benchmark body for `cargo xtask bench core` (native part): generates a
//! deterministic 10,000-unit batch result (OQSmuquc02res, ≈ 20 MB), then
//! measures typed parse + full validation against a bare quick-xml event
//! scan of the same bytes, in UTF-8 and Shift_JIS, and the peak heap.
//!
//! Run: `CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo run --release -p onshi-core --example bench_parse [UNITS]`
//! (the workspace release profile optimises for size, which is right for the
//! wasm page but not for a speed measurement).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use onshi_core::message::{parse_named, Message};
use onshi_core::Encoding;

/// Counts live heap bytes and their peak, to report peak memory of a parse.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A deterministic unit: values vary with `i` (a simple LCG, no randomness source).
fn unit(i: u32, out: &mut String) {
    use std::fmt::Write;
    let mut x = i.wrapping_mul(2_654_435_761).wrapping_add(12345);
    let mut next = |m: u32| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x % m
    };
    let body = format!("06{:02}{:03}", 1 + next(47), next(1000));
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    let insurer = format!("{body}{}", onshi_core::numbers::check_digit(&digits));
    let validity = [1, 1, 1, 1, 2, 4][next(6) as usize];
    let names = ["髙橋　一郎", "山田　花子", "佐藤　①太", "鈴木　次郎"];
    let name = names[next(4) as usize];
    let _ = write!(
        out,
        "  <BulkConfirmUnit>
    <QualificationConfirmSearchInfo>
      <InsurerNumber>{insurer}</InsurerNumber>
      <InsuredCardSymbol>記号{s:02}</InsuredCardSymbol>
      <InsuredIdentificationNumber>{n:08}</InsuredIdentificationNumber>
      <InsuredBranchNumber>01</InsuredBranchNumber>
      <Birthdate>19{y:02}0{m}1{d}</Birthdate>
    </QualificationConfirmSearchInfo>
    <ProcessingResultStatus>1</ProcessingResultStatus>
    <QualificationValidity>{validity}</QualificationValidity>
    <ResultOfQualificationConfirmation>
      <InsuredCardClassification>01</InsuredCardClassification>
      <InsurerNumber>{insurer}</InsurerNumber>
      <InsuredCardSymbol>記号{s:02}</InsuredCardSymbol>
      <InsuredIdentificationNumber>{n:08}</InsuredIdentificationNumber>
      <InsuredBranchNumber>01</InsuredBranchNumber>
      <PersonalFamilyClassification>1</PersonalFamilyClassification>
      <InsuredName>{name}</InsuredName>
      <Name>{name}</Name>
      <NameKana>ﾀｶﾊｼ ｲﾁﾛｳ</NameKana>
      <Sex1>1</Sex1>
      <Birthdate>19{y:02}0{m}1{d}</Birthdate>
      <Address>東京都千代田区霞が関１－２－{i}</Address>
      <PostNumber>100-8916</PostNumber>
      <QualificationDate>20200401</QualificationDate>
      {lost}<InsuredCertificateIssuanceDate>20200401</InsuredCertificateIssuanceDate>
      <InsuredCardValidDate>20200401</InsuredCardValidDate>
      <InsuredPartialContributionRatio>030</InsuredPartialContributionRatio>
      <InsurerName>テスト健康保険組合第{s}支部</InsurerName>
      <ElderlyRecipientCertificateInfo>
        <ElderlyRecipientCertificateDate>20250101</ElderlyRecipientCertificateDate>
        <ElderlyRecipientValidStartDate>20250201</ElderlyRecipientValidStartDate>
        <ElderlyRecipientValidEndDate>20260731</ElderlyRecipientValidEndDate>
        <ElderlyRecipientContributionRatio>020</ElderlyRecipientContributionRatio>
      </ElderlyRecipientCertificateInfo>
      <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>
      <LimitApplicationCertificateRelatedConsTime>20250401091500</LimitApplicationCertificateRelatedConsTime>
      <LimitApplicationCertificateRelatedInfo>
        <LimitApplicationCertificateClassificationFlag>B04</LimitApplicationCertificateClassificationFlag>
        <LimitApplicationCertificateValidStartDate>20250401</LimitApplicationCertificateValidStartDate>
        <LimitApplicationCertificateValidEndDate>20260331</LimitApplicationCertificateValidEndDate>
      </LimitApplicationCertificateRelatedInfo>
      <PharmacistsInfoConsFlg>1</PharmacistsInfoConsFlg>
      <PharmacistsInfoConsTime>20250401091500</PharmacistsInfoConsTime>
      <PharmacistsInfoAvailableTime>20250501091500</PharmacistsInfoAvailableTime>
      <SpecificHealthCheckupsInfoConsFlg>0</SpecificHealthCheckupsInfoConsFlg>
      <DiagnosisInfoConsFlg>0</DiagnosisInfoConsFlg>
      <OperationInfoConsFlg>0</OperationInfoConsFlg>
      <ReferenceNumber>P{i:07}</ReferenceNumber>
    </ResultOfQualificationConfirmation>
  </BulkConfirmUnit>
",
        s = next(100),
        n = next(100_000_000),
        y = 20 + next(80),
        m = 1 + next(9),
        d = next(10),
        lost = if validity == 2 { "<DisqualificationDate>20250331</DisqualificationDate>\n      <ReasonOfLoss>03</ReasonOfLoss>\n      " } else { "" },
    );
}

fn document(units: u32, encoding: Encoding) -> Vec<u8> {
    let mut s = String::with_capacity(units as usize * 2600);
    s.push_str(&format!("<?xml version=\"1.0\" encoding=\"{}\"?>\n<XmlMsg>\n<MessageHeader>\n  <ProcessExecutionTime>20250402060000</ProcessExecutionTime>\n  <MedicalInstitutionCode>0110113719</MedicalInstitutionCode>\n  <SegmentOfResult>1</SegmentOfResult>\n  <ReceptionNumber>R1</ReceptionNumber>\n  <NumberOfProcessingResult>{units}</NumberOfProcessingResult>\n  <NumberOfNormalProcessing>{units}</NumberOfNormalProcessing>\n  <NumberOfError>0</NumberOfError>\n</MessageHeader>\n<MessageBody>\n", encoding.label()));
    for i in 0..units {
        unit(i, &mut s);
    }
    s.push_str("</MessageBody>\n</XmlMsg>\n");
    match encoding {
        Encoding::Utf8 => s.into_bytes(),
        Encoding::ShiftJis => onshi_core::xml::encode_text(&s, Encoding::ShiftJis),
    }
}

/// The floor: decode to text as any reader must, then walk quick-xml events.
fn bare_scan(bytes: &[u8], encoding: Encoding) -> usize {
    let text: std::borrow::Cow<'_, str> = match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).expect("utf8").into(),
        Encoding::ShiftJis => encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).0,
    };
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => events += 1,
            Err(e) => panic!("scan: {e}"),
        }
    }
    events
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last: Option<T> = None;
    for _ in 0..runs {
        // Drop the previous result first so the peak is one parse's worth.
        drop(last.take());
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("runs > 0"))
}

fn main() {
    let units: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    for encoding in [Encoding::Utf8, Encoding::ShiftJis] {
        let bytes = document(units, encoding);
        let mb = bytes.len() as f64 / 1e6;
        let (scan_s, events) = best_of(5, || bare_scan(&bytes, encoding));
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let (typed_s, parsed) = best_of(5, || parse_named("OQSmuquc02res_202504020001.xml", &bytes).expect("parse"));
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        let Message::BatchDownloadResult(m) = &parsed.message else { panic!("kind") };
        assert_eq!(m.body.units.len(), units as usize);
        let errors = parsed.diagnostics.iter().filter(|d| d.severity == onshi_core::Severity::Error).count();
        println!(
            "{{\"encoding\":\"{}\",\"units\":{units},\"bytes\":{},\"events\":{events},\"scan_mb_s\":{:.1},\"typed_mb_s\":{:.1},\"ratio\":{:.2},\"peak_heap_bytes\":{peak},\"peak_over_file\":{:.2},\"diagnostics\":{},\"errors\":{errors}}}",
            encoding.label(),
            bytes.len(),
            mb / scan_s,
            mb / typed_s,
            typed_s / scan_s,
            peak as f64 / bytes.len() as f64,
            parsed.diagnostics.len(),
        );
    }
}
