//! The benchmark document and the floor it is measured against, shared by
//! the native benchmark (`examples/bench_parse.rs`) and the WebAssembly one
//! (`tests/wasm_bench.rs`), so both measure exactly the same bytes.
//! No clock here: `std::time::Instant` does not exist on wasm32.

use onshi_core::Encoding;

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

pub fn document(units: u32, encoding: Encoding) -> Vec<u8> {
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
pub fn bare_scan(bytes: &[u8], encoding: Encoding) -> usize {
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
            // The generated document is well-formed; an error would end the scan early
            // and show up as a wrong event count next to the typed parse.
            Err(_) => break,
        }
    }
    events
}

