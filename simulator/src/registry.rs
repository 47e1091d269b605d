//! The synthetic insured-person registry behind the simulated closed
//! network, in SQLite: people, qualifications, public-assistance tickets,
//! consents, medication histories, health checks, and `probes` — lookups
//! that hit each case with the QualificationValidity they must produce.
//!
//! Deterministic: the same `people` and `seed` give the same rows (the
//! generator draws only from a seeded ChaCha20 and uses fixed dates; there is
//! no clock). The first people are scenarios that cover every case reception
//! meets (domain.md §3–4); the rest are ordinary valid households.
//! Person ids are `P0001`, `P0002`, … and match the JPKI certificates made by
//! `pki init` (P0001 and P0002 hold cards registered for insurance use,
//! P0003's card is not registered; the people of `pki::CERT_CASES` hold
//! cards whose certificate expires soon, lapsed within the grace, or lapsed).
//!
//! Drug codes are synthetic numbers in the 9-digit レセプト電算 format next
//! to real generic drug names; nothing here describes a real person.

use std::path::Path;

use onshi_core::numbers::check_digit;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use onshi_core::message::SearchInfo;
use rusqlite::{Connection, params};

/// Bumped whenever the generator's output changes for a given seed.
pub const GENERATOR_VERSION: &str = "2";

/// Errors of `registry seed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("the registry needs at least {min} people to cover every case, not {asked}")]
    TooFewPeople { min: usize, asked: usize },
    #[error("{0} already exists; choose a new file or delete it first")]
    Exists(std::path::PathBuf),
    #[error("SQLite: {0}")]
    Sql(#[from] rusqlite::Error),
}

impl RegistryError {
    pub fn explain(&self) -> onshi_core::text::Bilingual {
        let ja = match self {
            RegistryError::TooFewPeople { min, .. } => format!("人数は {min} 人以上にしてください（すべての場合を含めるため）。"),
            RegistryError::Exists(p) => format!("{} は既にあります。別のファイル名にするか削除してください。", p.display()),
            RegistryError::Sql(_) => "データベースに書き込めませんでした。ファイルの場所と空き容量を確認してください。".into(),
        };
        onshi_core::text::Bilingual { ja, en: self.to_string() }
    }
}

const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE people(
  person_id TEXT PRIMARY KEY, case_tag TEXT NOT NULL,
  name TEXT NOT NULL,            -- as the registry holds it (may be outside JIS)
  name_returned TEXT NOT NULL,   -- as results carry it: outside-JIS characters as ●
  name_kana TEXT NOT NULL,       -- half-width katakana, no small kana (ｼﾞﾕﾘ)
  sex TEXT NOT NULL, birthdate TEXT NOT NULL, post_number TEXT, address TEXT,
  household_id TEXT NOT NULL,
  card_registered INTEGER NOT NULL -- My Number card registered for insurance use
);
CREATE TABLE qualifications(
  id INTEGER PRIMARY KEY, person_id TEXT NOT NULL REFERENCES people,
  card_classification TEXT NOT NULL, insurer_number TEXT NOT NULL, insurer_name TEXT NOT NULL,
  symbol TEXT, number TEXT NOT NULL, branch TEXT, -- branch NULL for 後期高齢者
  personal_family TEXT NOT NULL, insured_name TEXT NOT NULL,
  qualification_date TEXT NOT NULL, disqualification_date TEXT, reason_of_loss TEXT,
  partial_contribution_ratio TEXT NOT NULL,
  elderly_ratio TEXT, elderly_valid_from TEXT, elderly_valid_to TEXT,
  limit_flag TEXT,               -- A01–A06 / B01–B10
  specific_disease TEXT,         -- 1 dialysis, 2 haemophilia, 3 HIV
  specific_disease_self_pay INTEGER
);
-- Lookups go by 番号 (stored in core's comparison form: ASCII, no spaces).
CREATE INDEX qualifications_by_number ON qualifications(number);
CREATE INDEX qualifications_by_person ON qualifications(person_id);
CREATE TABLE public_assistance(
  person_id TEXT NOT NULL REFERENCES people, payer_number TEXT NOT NULL,
  recipient_number TEXT NOT NULL, valid_from TEXT NOT NULL, valid_to TEXT
);
CREATE TABLE consents(
  person_id TEXT NOT NULL REFERENCES people,
  kind TEXT NOT NULL CHECK(kind IN ('health_check','pharmacist','diagnosis','operation')),
  flag TEXT NOT NULL, cons_time TEXT, available_time TEXT,
  PRIMARY KEY(person_id, kind)
);
CREATE TABLE medications(
  person_id TEXT NOT NULL REFERENCES people, month TEXT NOT NULL, dispensed_on TEXT NOT NULL,
  drug_code TEXT NOT NULL, drug_name TEXT NOT NULL, quantity REAL NOT NULL, unit TEXT NOT NULL,
  usage TEXT NOT NULL, days INTEGER NOT NULL
);
CREATE TABLE health_checks(
  person_id TEXT NOT NULL REFERENCES people, checked_on TEXT NOT NULL,
  height_cm REAL, weight_kg REAL, bmi REAL, systolic INTEGER, diastolic INTEGER, hba1c REAL, ldl INTEGER
);
CREATE TABLE probes(
  id INTEGER PRIMARY KEY, case_tag TEXT NOT NULL,
  insurer_number TEXT NOT NULL, symbol TEXT, number TEXT NOT NULL, branch TEXT, birthdate TEXT NOT NULL,
  expected_validity INTEGER NOT NULL, expected_people INTEGER NOT NULL
);
";

/// One qualification row under construction.
#[derive(Clone, Default)]
struct Qual {
    card_classification: &'static str,
    insurer_number: String,
    insurer_name: String,
    symbol: Option<String>,
    number: String,
    branch: Option<String>,
    personal_family: &'static str,
    insured_name: String,
    qualification_date: String,
    disqualification_date: Option<String>,
    reason_of_loss: Option<&'static str>,
    ratio: &'static str,
    elderly: Option<(&'static str, &'static str, &'static str)>,
    limit_flag: Option<&'static str>,
    specific_disease: Option<(&'static str, i64)>,
}

struct Person {
    id: String,
    case_tag: &'static str,
    name: String,
    kana_full: String,
    sex: &'static str,
    birthdate: String,
    household: String,
    card_registered: bool,
}

const SURNAMES: [(&str, &str); 16] = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("松本", "マツモト"), ("井上", "イノウエ"), ("木村", "キムラ"),
    ("林", "ハヤシ"),
];
const MALE: [(&str, &str); 8] = [
    ("翔太", "ショウタ"), ("大輔", "ダイスケ"), ("健一", "ケンイチ"), ("誠", "マコト"), ("蓮", "レン"),
    ("拓也", "タクヤ"), ("茂", "シゲル"), ("清", "キヨシ"),
];
const FEMALE: [(&str, &str); 8] = [
    ("陽子", "ヨウコ"), ("美咲", "ミサキ"), ("花子", "ハナコ"), ("恵子", "ケイコ"), ("結衣", "ユイ"),
    ("樹里", "ジュリ"), ("千代", "チヨ"), ("直美", "ナオミ"),
];
/// Characters outside JIS X 0208 that real registries hold (results show ●).
const OUTSIDE_JIS: [char; 3] = ['髙', '﨑', '𠮷'];

/// (code, name, unit, usage) — names are real generics; codes are synthetic.
const DRUGS: [(&str, &str, &str, &str); 10] = [
    ("620000101", "アムロジピン錠5mg「サワイ」", "錠", "1日1回朝食後"),
    ("620000102", "ロキソプロフェンNa錠60mg「YD」", "錠", "1日3回毎食後"),
    ("620000103", "メトホルミン塩酸塩錠250mgMT「DSEP」", "錠", "1日2回朝夕食後"),
    ("620000104", "ランソプラゾールOD錠15mg「トーワ」", "錠", "1日1回朝食後"),
    ("620000105", "アトルバスタチン錠10mg「サンド」", "錠", "1日1回夕食後"),
    ("620000106", "カロナール錠200 200mg", "錠", "疼痛時"),
    ("620000107", "カルボシステイン錠500mg「サワイ」", "錠", "1日3回毎食後"),
    ("620000108", "レバミピド錠100mg「EMEC」", "錠", "1日3回毎食後"),
    ("620000109", "モンテルカスト錠10mg「KM」", "錠", "1日1回就寝前"),
    ("620000110", "ビソプロロールフマル酸塩錠2.5mg「日医工」", "錠", "1日1回朝食後"),
];

const LIMIT_FLAGS_UNDER_70: [&str; 6] = ["A01", "A02", "A03", "A04", "A05", "A06"];
const LIMIT_FLAGS_70_PLUS: [&str; 10] = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10"];

/// Fewest people that still hold every scenario.
pub const MIN_PEOPLE: usize = 44;

/// A lookup and the QualificationValidity and number of people it must yield.
struct Probe {
    tag: &'static str,
    insurer: String,
    symbol: Option<String>,
    number: String,
    branch: Option<String>,
    birthdate: String,
    validity: i64,
    people: i64,
}

struct Gen {
    rng: ChaCha20Rng,
    people: Vec<Person>,
    quals: Vec<(String, Qual)>,
    probes: Vec<Probe>,
    assistance: Vec<(String, String, String, String, Option<String>)>,
}

impl Gen {
    fn below(&mut self, n: u32) -> u32 {
        self.rng.next_u32() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }

    /// An insurer (or 公費負担者) number with a correct check digit: `head` then random digits.
    fn numbered(&mut self, head: &str, len: usize) -> String {
        let mut body: Vec<u8> = head.bytes().map(|b| b - b'0').collect();
        while body.len() < len - 1 {
            body.push(self.below(10) as u8);
        }
        let c = check_digit(&body);
        body.push(c);
        body.iter().map(|d| char::from(b'0' + d)).collect()
    }

    fn prefecture(&mut self) -> String {
        format!("{:02}", 1 + self.below(47))
    }

    /// A birthdate for someone `age` years old on 2026-04-01.
    fn birthdate(&mut self, age: u32) -> String {
        let year = 2026 - age - 1;
        format!("{year}{:02}{:02}", 4 + self.below(9), 1 + self.below(28))
    }

    fn add_person(&mut self, case_tag: &'static str, age: u32, household: Option<&str>, surname: Option<(&str, &str)>) -> usize {
        let id = format!("P{:04}", self.people.len() + 1);
        let female = self.below(2) == 1;
        let (s, sk) = surname.unwrap_or_else(|| self.pick(&SURNAMES));
        let (g, gk) = if female { self.pick(&FEMALE) } else { self.pick(&MALE) };
        let birthdate = self.birthdate(age);
        self.people.push(Person {
            household: household.map(str::to_string).unwrap_or_else(|| format!("H{}", &id[1..])),
            id,
            case_tag,
            name: format!("{s}\u{3000}{g}"),
            kana_full: format!("{sk}\u{3000}{gk}"),
            sex: if female { "2" } else { "1" },
            birthdate,
            card_registered: true,
        });
        self.people.len() - 1
    }

    fn employee_insurance(&mut self) -> (String, String) {
        let pref = self.prefecture();
        (self.numbered(&format!("06{pref}"), 8), "全国健康保険協会（テスト）".into())
    }

    fn qual_for(&mut self, p: usize, insurer: &(String, String), symbol: Option<String>, number: &str, branch: Option<&str>) -> Qual {
        let age = 2026 - self.people[p].birthdate[..4].parse::<u32>().unwrap_or(1980);
        let ratio = if age < 7 { "020" } else { "030" };
        Qual {
            card_classification: "01",
            insurer_number: insurer.0.clone(),
            insurer_name: insurer.1.clone(),
            symbol,
            number: number.to_string(),
            branch: branch.map(str::to_string),
            personal_family: if branch == Some("00") || branch.is_none() { "1" } else { "2" },
            insured_name: self.people[p].name.clone(),
            qualification_date: format!("20{:02}0401", 10 + self.below(15)),
            ratio,
            ..Default::default()
        }
    }

    fn probe_for(&mut self, tag: &'static str, q: &Qual, birthdate: &str, with_branch: bool, validity: i64, n: i64) {
        let branch = if with_branch { q.branch.clone() } else { None };
        self.probes.push(Probe {
            tag,
            insurer: q.insurer_number.clone(),
            symbol: q.symbol.clone(),
            number: q.number.clone(),
            branch,
            birthdate: birthdate.into(),
            validity,
            people: n,
        });
    }

    /// One person with one qualification, and a probe expecting `validity`.
    fn single(&mut self, tag: &'static str, age: u32, edit: impl FnOnce(&mut Qual), validity: i64) -> usize {
        let p = self.add_person(tag, age, None, None);
        let ins = self.employee_insurance();
        let (sym, num) = (self.digits(4), self.digits(6));
        let mut q = self.qual_for(p, &ins, Some(sym), &num, Some("00"));
        edit(&mut q);
        let bd = self.people[p].birthdate.clone();
        self.probe_for(tag, &q, &bd, true, validity, 1);
        let id = self.people[p].id.clone();
        self.quals.push((id, q));
        p
    }

    fn family(&mut self, tag_head: &'static str, tag_member: &'static str) {
        let surname = self.pick(&SURNAMES);
        let head = self.add_person(tag_head, 45, None, Some(surname));
        let hh = self.people[head].household.clone();
        let ins = self.employee_insurance();
        let (sym, num) = (format!("記号{}", self.digits(2)), self.digits(5));
        let head_name = self.people[head].name.clone();
        for (i, age) in [(0, 45), (1, 43), (2, 6)] {
            let p = if i == 0 { head } else { self.add_person(tag_member, age, Some(&hh), Some(surname)) };
            let branch = format!("{i:02}");
            let mut q = self.qual_for(p, &ins, Some(sym.clone()), &num, Some(&branch));
            q.insured_name = head_name.clone();
            let bd = self.people[p].birthdate.clone();
            self.probe_for(if i == 0 { tag_head } else { tag_member }, &q, &bd, true, 1, 1);
            let id = self.people[p].id.clone();
            self.quals.push((id, q));
        }
    }
}

/// Full-width katakana → half-width as the national system returns it:
/// voiced marks split off, small kana written large (ジュリ → ｼﾞﾕﾘ).
pub fn to_system_kana(full: &str) -> String {
    const FULL: &str = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンァィゥェォッャュョー";
    const HALF: &str = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｱｲｳｴｵﾂﾔﾕﾖｰ";
    const VOICED: &str = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ";
    const VOICED_BASE: &str = "カキクケコサシスセソタチツテトハヒフヘホ";
    const SEMI: &str = "パピプペポ";
    let half = |c: char| FULL.chars().position(|f| f == c).and_then(|i| HALF.chars().nth(i));
    let mut out = String::new();
    for c in full.chars() {
        if let Some(h) = half(c) {
            out.push(h);
        } else if let Some(i) = VOICED.chars().position(|v| v == c) {
            out.extend(VOICED_BASE.chars().nth(i).and_then(half));
            out.push('ﾞ');
        } else if let Some(i) = SEMI.chars().position(|v| v == c) {
            out.extend("ﾊﾋﾌﾍﾎ".chars().nth(i));
            out.push('ﾟ');
        } else if c == 'ヴ' {
            out.push_str("ｳﾞ");
        } else if c == '\u{3000}' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// A name as results carry it: characters outside JIS X 0208 become ●.
pub fn returned_name(name: &str) -> String {
    name.chars().map(|c| if OUTSIDE_JIS.contains(&c) || u32::from(c) > 0xFFFF { '●' } else { c }).collect()
}

/// Writes a new registry with `people` people from `seed` into `db` (which must not exist).
pub fn seed(db: &Path, people: usize, seed: u64) -> Result<SeedReport, RegistryError> {
    if people < MIN_PEOPLE {
        return Err(RegistryError::TooFewPeople { min: MIN_PEOPLE, asked: people });
    }
    if db.exists() {
        return Err(RegistryError::Exists(db.to_path_buf()));
    }
    let g = generate(people, seed);
    let mut conn = Connection::open(db)?;
    write(&mut conn, &g, people, seed)?;
    Ok(SeedReport { people: g.people.len(), qualifications: g.quals.len(), probes: g.probes.len() })
}

/// Counts for the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub people: usize,
    pub qualifications: usize,
    pub probes: usize,
}

fn generate(people: usize, seed: u64) -> Gen {
    let mut g = Gen {
        rng: ChaCha20Rng::seed_from_u64(seed),
        people: Vec::new(),
        quals: Vec::new(),
        probes: Vec::new(),
        assistance: Vec::new(),
    };
    // P0001–P0003 match the default JPKI certificates of `pki init`.
    g.single("valid", 38, |_| {}, 1);
    g.single("valid", 52, |_| {}, 1);
    let p3 = g.single("card_not_registered", 29, |_| {}, 1);
    g.people[p3].card_registered = false;
    g.family("family_head", "family_member");
    g.single("lost_death", 81, |q| {
        q.disqualification_date = Some("20251120".into());
        q.reason_of_loss = Some("01");
    }, 2);
    let pa = g.single("lost_public_assistance", 58, |q| {
        q.disqualification_date = Some("20250930".into());
        q.reason_of_loss = Some("02");
    }, 2);
    let payer = g.numbered("1213", 8);
    let recipient = g.digits(7);
    g.assistance.push((g.people[pa].id.clone(), payer, recipient, "20251001".into(), None));
    g.single("lost_other_insurance", 33, |q| {
        q.disqualification_date = Some("20250331".into());
        q.reason_of_loss = Some("03");
    }, 2);
    // A newer qualification: the old card is lost, a new insurer took over.
    {
        let p = g.add_person("newer_qualification", 41, None, None);
        let (old_ins, new_ins) = (g.employee_insurance(), g.employee_insurance());
        let (s1, n1, s2, n2) = (g.digits(3), g.digits(6), g.digits(3), g.digits(6));
        let mut old = g.qual_for(p, &old_ins, Some(s1), &n1, Some("00"));
        old.disqualification_date = Some("20250930".into());
        old.reason_of_loss = Some("03");
        let mut new = g.qual_for(p, &new_ins, Some(s2), &n2, Some("00"));
        new.qualification_date = "20251001".into();
        let bd = g.people[p].birthdate.clone();
        g.probe_for("newer_qualification", &old, &bd, true, 3, 1);
        let id = g.people[p].id.clone();
        g.quals.push((id.clone(), old));
        g.quals.push((id, new));
    }
    // Several matches: twins with one birthdate, looked up without a branch number.
    {
        let surname = g.pick(&SURNAMES);
        let a = g.add_person("several_matches", 17, None, Some(surname));
        let hh = g.people[a].household.clone();
        let b = g.add_person("several_matches", 17, Some(&hh), Some(surname));
        let bd = g.people[a].birthdate.clone();
        g.people[b].birthdate = bd.clone();
        let ins = g.employee_insurance();
        let (sym, num) = (g.digits(4), g.digits(6));
        for (p, br) in [(a, "01"), (b, "02")] {
            let q = g.qual_for(p, &ins, Some(sym.clone()), &num, Some(br));
            if br == "01" {
                g.probe_for("several_matches", &q, &bd, false, 5, 2);
            }
            let id = g.people[p].id.clone();
            g.quals.push((id, q));
        }
    }
    // No match: a probe for numbers nobody holds.
    let (ins, _) = g.employee_insurance();
    g.probes.push(Probe {
        tag: "no_match",
        insurer: ins,
        symbol: Some("9999".into()),
        number: "000000".into(),
        branch: Some("00".into()),
        birthdate: "19800101".into(),
        validity: 4,
        people: 0,
    });
    // 後期高齢者: insurer 39…, no branch number, ratio 1–3 割.
    for ratio in ["010", "020", "030"] {
        let age = 78 + g.below(12);
        let p = g.add_person("late_elderly", age, None, None);
        let pref = g.prefecture();
        let ins = (g.numbered(&format!("39{pref}"), 8), "後期高齢者医療広域連合（テスト）".to_string());
        let num = g.digits(8);
        let mut q = g.qual_for(p, &ins, None, &num, None);
        q.ratio = ratio;
        let bd = g.people[p].birthdate.clone();
        g.probe_for("late_elderly", &q, &bd, false, 1, 1);
        let id = g.people[p].id.clone();
        g.quals.push((id, q));
    }
    // 6-digit national health insurance, kana in the symbol.
    {
        let p = g.add_person("national_health_6digit", 47, None, None);
        let pref = g.prefecture();
        let ins = (g.numbered(&pref, 6), "国民健康保険（テスト市）".to_string());
        let (sym, num) = (format!("あ-{}", g.digits(2)), g.digits(5));
        let q = g.qual_for(p, &ins, Some(sym), &num, Some("00"));
        let bd = g.people[p].birthdate.clone();
        g.probe_for("national_health_6digit", &q, &bd, true, 1, 1);
        let id = g.people[p].id.clone();
        g.quals.push((id, q));
    }
    // 高齢受給者 (70–74).
    for ratio in ["020", "030"] {
        g.single("elderly_recipient", 71, |q| {
            q.ratio = ratio;
            q.elderly = Some((ratio, "20250801", "20260731"));
        }, 1);
    }
    // Every 限度額 classification flag.
    for flag in LIMIT_FLAGS_UNDER_70 {
        g.single("limit_category", 44, |q| q.limit_flag = Some(flag), 1);
    }
    for flag in LIMIT_FLAGS_70_PLUS {
        g.single("limit_category", 72, |q| {
            q.limit_flag = Some(flag);
            q.ratio = if matches!(flag, "B01" | "B02" | "B03") { "030" } else { "020" };
            q.elderly = Some((q.ratio, "20250801", "20260731"));
        }, 1);
    }
    // 特定疾病: dialysis (self-pay cap 10,000 or 20,000), haemophilia, HIV.
    for (cat, cap) in [("1", 10000), ("1", 20000), ("2", 10000), ("3", 10000)] {
        g.single("specific_disease", 55, |q| q.specific_disease = Some((cat, cap)), 1);
    }
    // Public assistance only: a medical ticket instead of insurance (validity 6).
    {
        let p = g.add_person("public_assistance", 62, None, None);
        let payer = g.numbered("12", 8);
        let recipient = g.digits(7);
        let ins = (payer.clone(), "生活保護（テスト福祉事務所）".to_string());
        let mut q = g.qual_for(p, &ins, None, &recipient, None);
        q.card_classification = "A1";
        q.ratio = "000";
        let bd = g.people[p].birthdate.clone();
        g.probe_for("public_assistance", &q, &bd, false, 6, 1);
        let id = g.people[p].id.clone();
        g.assistance.push((id.clone(), payer, recipient, "20240401".into(), None));
        g.quals.push((id, q));
    }
    // Names: outside JIS, and small kana the system writes large.
    let p = g.single("name_outside_jis", 36, |_| {}, 1);
    g.people[p].name = "𠮷田\u{3000}髙志".into();
    g.people[p].kana_full = "ヨシダ\u{3000}タカシ".into();
    let p = g.single("name_small_kana", 24, |_| {}, 1);
    g.people[p].name = "山田\u{3000}樹里".into();
    g.people[p].kana_full = "ヤマダ\u{3000}ジュリ".into();
    // Card certificates in each state (issue 14): `pki` issues these ids
    // certificates relative to a given day (`pki::CERT_CASES`); the people
    // themselves are ordinary valid, registered insured persons.
    for (id, case) in crate::pki::CERT_CASES {
        let p = g.single(case.tag(), 45, |_| {}, 1);
        debug_assert_eq!(g.people[p].id, id, "pki::CERT_CASES names the registry's ids");
    }
    debug_assert!(g.people.len() <= MIN_PEOPLE, "MIN_PEOPLE must hold every scenario");
    // The rest: ordinary households.
    while g.people.len() + 3 <= people {
        g.family("valid", "family_member");
    }
    while g.people.len() < people {
        let age = 20 + g.below(50);
        g.single("valid", age, |_| {}, 1);
    }
    g
}

fn write(conn: &mut Connection, g: &Gen, people: usize, seed: u64) -> Result<(), RegistryError> {
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    for (k, v) in [("generator_version", GENERATOR_VERSION.to_string()), ("people", people.to_string()), ("seed", seed.to_string())] {
        tx.execute("INSERT INTO meta VALUES (?1, ?2)", params![k, v])?;
    }
    // A second RNG for the histories, so adding a scenario above does not reshuffle them.
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x6d65_6473);
    let mut roll = |n: u32| rng.next_u32() % n;
    {
        let mut ins_person = tx.prepare("INSERT INTO people VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)")?;
        let mut ins_consent = tx.prepare("INSERT INTO consents VALUES (?1,?2,?3,?4,?5)")?;
        let mut ins_med = tx.prepare("INSERT INTO medications VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)")?;
        let mut ins_check = tx.prepare("INSERT INTO health_checks VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)")?;
        for p in &g.people {
            let post = format!("{:03}-{:04}", 100 + roll(900), roll(10000));
            let address = format!("東京都テスト区{}丁目{}番{}号", 1 + roll(9), 1 + roll(30), 1 + roll(20));
            ins_person.execute(params![
                p.id, p.case_tag, p.name, returned_name(&p.name), to_system_kana(&p.kana_full), p.sex, p.birthdate,
                post, address, p.household, p.card_registered
            ])?;
            // Consents: about half given and valid, some expired, the rest none.
            let consent = roll(4);
            let (flag, cons, avail) = match consent {
                0 | 1 => ("1", Some("20260301093000"), Some("20301231")),
                2 => ("2", Some("20240301093000"), Some("20250301")),
                _ => ("0", None, None),
            };
            for kind in ["health_check", "pharmacist", "diagnosis", "operation"] {
                ins_consent.execute(params![p.id, kind, flag, cons, avail])?;
            }
            if flag != "0" {
                for m in 0..(3 + roll(4)) {
                    let (y, mo) = if m < 3 { (2026, 3 - m) } else { (2025, 15 - m) };
                    let month = format!("{y}{mo:02}");
                    for _ in 0..(1 + roll(3)) {
                        let (code, name, unit, usage) = DRUGS[roll(DRUGS.len() as u32) as usize];
                        let days = [7, 14, 28, 30][roll(4) as usize];
                        let per_day = if usage.contains('3') { 3 } else if usage.contains('2') { 2 } else { 1 };
                        ins_med.execute(params![
                            p.id, month, format!("{month}{:02}", 1 + roll(28)), code, name,
                            f64::from(days * per_day), unit, usage, days
                        ])?;
                    }
                }
                let height = 150.0 + f64::from(roll(350)) / 10.0;
                let weight = 45.0 + f64::from(roll(500)) / 10.0;
                let bmi = (weight / (height / 100.0).powi(2) * 10.0).round() / 10.0;
                ins_check.execute(params![
                    p.id, format!("2025{:02}{:02}", 5 + roll(6), 1 + roll(28)), height, weight, bmi,
                    105 + roll(50), 60 + roll(35), 4.8 + f64::from(roll(30)) / 10.0, 80 + roll(100)
                ])?;
            }
        }
        let mut ins_q = tx.prepare(
            "INSERT INTO qualifications (person_id, card_classification, insurer_number, insurer_name, symbol, number,
             branch, personal_family, insured_name, qualification_date, disqualification_date, reason_of_loss,
             partial_contribution_ratio, elderly_ratio, elderly_valid_from, elderly_valid_to, limit_flag,
             specific_disease, specific_disease_self_pay)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
        )?;
        for (pid, q) in &g.quals {
            ins_q.execute(params![
                pid, q.card_classification, q.insurer_number, q.insurer_name, q.symbol, q.number, q.branch,
                q.personal_family, returned_name(&q.insured_name), q.qualification_date, q.disqualification_date,
                q.reason_of_loss, q.ratio, q.elderly.map(|e| e.0), q.elderly.map(|e| e.1), q.elderly.map(|e| e.2),
                q.limit_flag, q.specific_disease.map(|d| d.0), q.specific_disease.map(|d| d.1)
            ])?;
        }
        let mut ins_pa = tx.prepare("INSERT INTO public_assistance VALUES (?1,?2,?3,?4,?5)")?;
        for a in &g.assistance {
            ins_pa.execute(params![a.0, a.1, a.2, a.3, a.4])?;
        }
        let mut ins_probe = tx.prepare(
            "INSERT INTO probes (case_tag, insurer_number, symbol, number, branch, birthdate, expected_validity,
             expected_people) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
        )?;
        for p in &g.probes {
            ins_probe.execute(params![p.tag, p.insurer, p.symbol, p.number, p.branch, p.birthdate, p.validity, p.people])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A digest of every row of every table in a fixed order, to compare two
/// registries by content (SQLite files may differ in free pages).
pub fn fingerprint(db: &Path) -> Result<String, RegistryError> {
    use sha2::{Digest, Sha256};
    let conn = Connection::open(db)?;
    let mut h = Sha256::new();
    for table in ["meta", "people", "qualifications", "public_assistance", "consents", "medications", "health_checks", "probes"] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))?;
        let cols = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for i in 0..cols {
                let v: rusqlite::types::Value = row.get(i)?;
                h.update(format!("{v:?}\u{1f}").as_bytes());
            }
            h.update(b"\x1e");
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Which seeded probes to read back.
#[derive(Debug, Clone, Copy)]
pub enum Probes<'a> {
    /// Every probe of one case (`valid`, `no_match`, `several_matches` …).
    Tag(&'a str),
    /// Probes that expect exactly one valid person.
    ValidSingle,
}

/// The search keys of the chosen probes in seeding order, as a request's
/// `SearchInfo` — what tests, benchmarks and the demo send to the system.
pub fn probe_searches(conn: &Connection, which: Probes<'_>) -> Result<Vec<SearchInfo>, rusqlite::Error> {
    const COLUMNS: &str = "SELECT insurer_number, symbol, number, branch, birthdate FROM probes";
    let row = |r: &rusqlite::Row<'_>| {
        Ok(SearchInfo {
            insurer_number: r.get(0)?,
            insured_card_symbol: r.get(1)?,
            insured_identification_number: r.get(2)?,
            insured_branch_number: r.get(3)?,
            birthdate: r.get(4)?,
            ..Default::default()
        })
    };
    match which {
        Probes::Tag(tag) => conn.prepare(&format!("{COLUMNS} WHERE case_tag = ?1 ORDER BY id"))?.query_map([tag], row)?.collect(),
        Probes::ValidSingle => conn
            .prepare(&format!("{COLUMNS} WHERE expected_validity = 1 AND expected_people = 1 ORDER BY id"))?
            .query_map([], row)?
            .collect(),
    }
}
