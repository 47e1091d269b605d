//! Code tables of the eligibility messages (domain.md §3), each an enum with
//! its wire code, a Japanese and English label, and an `Unknown` variant that
//! keeps an unexpected code verbatim: a new code from the national system is
//! a warning, never a parse failure.
//!
//! All tables come from one macro so they behave identically; this module
//! must not contain rules about when a code is acceptable (that is
//! `validate`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::{Bilingual, Explain};

/// What every code table offers, for generic reading, writing and validation.
pub trait CodeValue: Sized + Clone {
    /// The table's name, for messages: ("資格有効性", "qualification validity").
    const TABLE: (&'static str, &'static str);
    /// The XML element (or field) this table is named after.
    const ELEMENT: &'static str;
    /// Reads a code; surrounding spaces are ignored for matching only.
    fn from_code(code: &str) -> Self;
    /// The code as written on the wire (verbatim for unknown codes).
    fn code(&self) -> &str;
    /// The label, or `None` for an unknown code.
    fn label(&self) -> Option<Bilingual>;
    fn is_known(&self) -> bool {
        self.label().is_some()
    }
}

macro_rules! code_table {
    ($(
        $(#[$meta:meta])*
        $name:ident ($element:literal, $tja:literal, $ten:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal => ($ja:literal, $en:literal) ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $code, "` ", $ja, " / ", $en)] $variant, )*
            /// A code not in this table, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every known value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
        }

        impl CodeValue for $name {
            const TABLE: (&'static str, &'static str) = ($tja, $ten);
            const ELEMENT: &'static str = $element;
            fn from_code(code: &str) -> Self {
                match code.trim() {
                    $( $code => $name::$variant, )*
                    _ => $name::Unknown(code.to_string()),
                }
            }
            fn code(&self) -> &str {
                match self {
                    $( $name::$variant => $code, )*
                    $name::Unknown(c) => c,
                }
            }
            fn label(&self) -> Option<Bilingual> {
                match self {
                    $( $name::$variant => Some(Bilingual::new($ja, $en)), )*
                    $name::Unknown(_) => None,
                }
            }
            // Without building the label: validation asks this of every
            // code in a batch, and a label is two allocated strings (issue 13).
            fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl Explain for $name {
            fn explain(&self) -> Bilingual {
                self.label().unwrap_or_else(|| unknown_label(Self::TABLE, self.code()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = String::deserialize(d)?;
                Ok(<$name as CodeValue>::from_code(&code))
            }
        }
    )*};
}

/// The label of a code no table knows: says so and what to do.
pub fn unknown_label(table: (&str, &str), code: &str) -> Bilingual {
    Bilingual::new(
        format!("{}の値「{code}」は未知のコードです。値はそのまま保持しました。仕様の更新がないか確認してください。", table.0),
        format!("{} code {code:?} is not known; it was kept as is. Check for a specification update.", table.1),
    )
}

code_table! {
    /// 資格有効性: the verdict on one search.
    QualificationValidity("QualificationValidity", "資格有効性", "qualification validity") {
        Valid = "1" => ("有効", "valid"),
        Invalid = "2" => ("無効", "invalid"),
        NewerExists = "3" => ("無効（新しい資格あり）", "invalid (a newer qualification exists)"),
        NoMatch = "4" => ("該当資格なし", "no matching qualification"),
        SeveralMatches = "5" => ("複数該当", "several matches"),
        ValidUnregistered = "6" => ("有効（未登録・医療扶助等）", "valid (unregistered, public assistance)"),
    }

    /// 性別.
    Sex("Sex1", "性別", "sex") {
        Male = "1" => ("男", "male"),
        Female = "2" => ("女", "female"),
        Unset = "3" => ("未設定", "not set"),
    }

    /// 資格喪失事由.
    ReasonOfLoss("ReasonOfLoss", "資格喪失事由", "reason of loss") {
        Death = "01" => ("死亡", "death"),
        PublicAssistance = "02" => ("生活保護受給開始", "public assistance began"),
        OtherInsurance = "03" => ("他の保険の資格取得", "other insurance acquired"),
        Other = "99" => ("その他", "other"),
    }

    /// 被保険者証区分.
    InsuredCardClassification("InsuredCardClassification", "被保険者証区分", "insured card classification") {
        General = "01" => ("一般", "general"),
        Retiree = "02" => ("退職", "retiree"),
        ShortTerm03 = "03" => ("短期被保険者証（03）", "short-term card (03)"),
        ShortTerm04 = "04" => ("短期被保険者証（04）", "short-term card (04)"),
        /// Sources disagree on the meaning of 05.
        Code05 = "05" => ("区分05", "classification 05"),
        SpecialRetiree = "06" => ("特例退職", "special retiree"),
        SelfDefenceForces = "07" => ("自衛官等", "Self-Defense Forces"),
        PublicAssistanceTicket = "A1" => ("医療券等（医療扶助）", "public-assistance medical ticket"),
    }

    /// 本人・家族の別.
    PersonalFamilyClassification("PersonalFamilyClassification", "本人・家族の別", "self or family") {
        Insured = "1" => ("本人", "insured person"),
        Family = "2" => ("家族", "family member"),
    }

    /// 処理結果区分 (header).
    SegmentOfResult("SegmentOfResult", "処理結果区分", "segment of result") {
        Normal = "1" => ("正常終了", "completed"),
        InProgress = "2" => ("処理中", "still processing"),
        Failed = "9" => ("異常終了", "failed"),
    }

    /// 処理結果状況 (body).
    ProcessingResultStatus("ProcessingResultStatus", "処理結果状況", "processing result status") {
        Normal = "1" => ("正常", "normal"),
        Error = "2" => ("エラー", "error"),
    }

    /// 照会区分: how the person was identified.
    ReferenceClassification("ReferenceClassification", "照会区分", "reference classification") {
        Card = "1" => ("マイナンバーカード", "My Number card"),
        InsuranceCard = "2" => ("被保険者証等の記号番号", "insurance-card numbers"),
    }

    /// 限度額適用認定証 区分フラグ.
    LimitClassificationFlag("LimitApplicationCertificateClassificationFlag", "限度額適用区分", "ceiling category") {
        A01 = "A01" => ("ア", "category a (ア)"),
        A02 = "A02" => ("イ", "category i (イ)"),
        A03 = "A03" => ("ウ", "category u (ウ)"),
        A04 = "A04" => ("エ", "category e (エ)"),
        A05 = "A05" => ("オ", "category o (オ)"),
        A06 = "A06" => ("オ（境）", "category o, borderline (オ（境）)"),
        B01 = "B01" => ("現役並みⅢ", "working-age-level income III"),
        B02 = "B02" => ("現役並みⅡ", "working-age-level income II"),
        B03 = "B03" => ("現役並みⅠ", "working-age-level income I"),
        B04 = "B04" => ("一般", "general"),
        B05 = "B05" => ("低所得Ⅱ", "low income II"),
        B06 = "B06" => ("低所得Ⅰ", "low income I"),
        B07 = "B07" => ("低所得Ⅰ（B07）", "low income I (B07)"),
        B08 = "B08" => ("低所得Ⅰ（B08）", "low income I (B08)"),
        B09 = "B09" => ("一般Ⅱ", "general II"),
        B10 = "B10" => ("一般Ⅰ", "general I"),
    }

    /// 同意フラグ (consents for ceiling, specific diseases, medication …).
    ConsentFlag("ConsFlg", "同意フラグ", "consent flag") {
        None = "0" => ("同意なし", "no consent"),
        Given = "1" => ("同意あり", "consent given"),
        Expired = "2" => ("同意の有効期限切れ", "consent expired"),
        Unobtainable = "3" => ("同意を取得できず", "consent could not be obtained"),
    }

    /// 特定疾病区分.
    SpecificDiseaseCategory("SpecificDiseasesDiseaseCategory", "特定疾病区分", "specific disease category") {
        Dialysis = "1" => ("人工透析を要する慢性腎不全", "chronic renal failure on dialysis"),
        Haemophilia = "2" => ("血友病", "haemophilia"),
        Hiv = "3" => ("抗ウイルス剤を投与しているHIV感染症", "HIV infection under antiviral treatment"),
    }

    /// 取得ファイル区分 for medication / health-check requests.
    FileCategory("FileCategory", "ファイル区分", "file category") {
        Pdf = "1" => ("PDF", "PDF"),
        Xml = "2" => ("XML", "XML"),
        MedicationDiagnosisPdf = "3" => ("薬剤・診療情報（PDF）", "medication and diagnosis (PDF)"),
        MedicationDiagnosisXml = "4" => ("薬剤・診療情報（XML）", "medication and diagnosis (XML)"),
    }

    /// 診療区分フラグ.
    MedicalTreatmentFlag("MedicalTreatmentFlag", "診療区分", "treatment setting") {
        Outpatient = "1" => ("外来", "outpatient"),
        HomeVisit = "2" => ("訪問診療", "home visit"),
        Online = "3" => ("オンライン診療", "online consultation"),
        Emergency = "4" => ("救急", "emergency"),
    }

    /// 文字コード識別 (sources disagree; most say 0 UTF-8, 1 Shift_JIS).
    CharacterCodeIdentifier("CharacterCodeIdentifier", "文字コード識別", "character code identifier") {
        Utf8 = "0" => ("UTF-8", "UTF-8"),
        ShiftJis = "1" => ("Shift_JIS", "Shift_JIS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes() {
        assert_eq!(QualificationValidity::from_code("1"), QualificationValidity::Valid);
        assert_eq!(QualificationValidity::from_code(" 3 "), QualificationValidity::NewerExists);
        let u = QualificationValidity::from_code("7");
        assert_eq!(u, QualificationValidity::Unknown("7".into()));
        assert!(!u.is_known());
        assert!(u.explain().ja.contains("「7」"));
        assert_eq!(LimitClassificationFlag::from_code("B10").label().unwrap().ja, "一般Ⅰ");
        assert_eq!(ReasonOfLoss::ALL.len(), 4);
        for v in InsuredCardClassification::ALL {
            assert_eq!(&InsuredCardClassification::from_code(v.code()), v);
            // `is_known` skips building the label; both must agree.
            assert!(v.is_known() && v.label().is_some());
        }
    }

    #[test]
    fn serialises_as_the_wire_code() {
        assert_eq!(serde_json::to_string(&ConsentFlag::Expired).unwrap(), "\"2\"");
        let back: ConsentFlag = serde_json::from_str("\"9\"").unwrap();
        assert_eq!(back, ConsentFlag::Unknown("9".into()));
    }
}
