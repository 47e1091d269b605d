//! The page language and the one table of fixed UI wording. Japanese is
//! primary, English secondary; messages that come from the core arrive as
//! `Bilingual` and go through the same [`Lang::order`]. Pure: the choice is
//! remembered in localStorage by the app shell, not here.

use onshi_core::text::Bilingual;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 日本語: Japanese large, English small.
    #[default]
    Ja,
    /// English large, Japanese small.
    En,
}

impl Lang {
    /// The value stored in localStorage and set as `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Reads a stored value; anything unknown falls back to Japanese.
    pub fn from_code(code: &str) -> Lang {
        if code == "en" { Lang::En } else { Lang::Ja }
    }

    /// (primary, secondary) for the current language.
    pub fn order(self, text: &Bilingual) -> (&str, &str) {
        match self {
            Lang::Ja => (&text.ja, &text.en),
            Lang::En => (&text.en, &text.ja),
        }
    }

    /// The other language, for the header's switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }
}

/// The localStorage key holding the language choice.
pub const STORAGE_KEY: &str = "onshi.lang";

/// A fixed piece of UI wording in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tx {
    pub ja: &'static str,
    pub en: &'static str,
}

impl Tx {
    pub fn bi(self) -> Bilingual {
        Bilingual::new(self.ja, self.en)
    }
}

macro_rules! table {
    ($($name:ident = $ja:literal / $en:literal;)*) => {
        $(pub const $name: Tx = Tx { ja: $ja, en: $en };)*
        /// Every entry, so a test can check none is empty.
        pub const ALL: &[Tx] = &[$($name),*];
    };
}

/// The table. Names say where the words appear.
pub mod t {
    use super::Tx;
    table! {
        APP_TITLE = "オンライン資格確認 受付" / "Onshi reception";
        LANG_SWITCH = "English" / "日本語";
        NAV_DESK = "本日の受付" / "Today";
        NAV_ENTRY = "保険証入力" / "Insurance card";
        NAV_CARD = "マイナ保険証" / "My Number card";
        NAV_RESULT = "確認結果" / "Result";
        NAV_BATCH = "一括確認" / "Batch";
        NAV_HISTORY = "閲覧" / "History";
        NAV_SETTINGS = "設定・診断" / "Settings";
        NAV_USAGE = "利用状況" / "Usage";
        USAGE_TITLE = "利用状況（資格確認の件数）" / "Usage (eligibility checks)";
        USAGE_MONTH = "表示する月" / "Month";
        USAGE_PREV = "前の月" / "Previous month";
        USAGE_NEXT = "次の月" / "Next month";
        USAGE_CSV = "CSVで保存" / "Save as CSV";
        USAGE_RELOAD = "再読み込み" / "Reload";
        USAGE_LOADING = "集計しています…" / "Counting…";
        USAGE_NEEDS_HELPER = "利用状況はヘルパーに保存された結果から集計します。ヘルパーに接続してください。" / "Usage is counted from the results the helper keeps. Connect the helper.";
        USAGE_RATE = "マイナ保険証利用率" / "My Number card usage rate";
        USAGE_RATE_NOTE = "オンライン資格確認件数ベース（マイナ保険証による確認件数 ÷ 資格確認件数。一括照会・閲覧は含みません）。このPCの分の目安です。加算の判定には医療機関等向け総合ポータルサイトの数値を確認してください。" / "Count-based rate (checks with the My Number card ÷ all eligibility checks; batch pre-checks and history views excluded). This PC's estimate: for the add-on, check the figure on the providers' portal.";
        USAGE_CHART = "日別の確認件数（方法別の積み上げ）" / "Checks per day, stacked by method";
        USAGE_DAYS = "日別" / "Per day";
        USAGE_MONTHS = "月別（直近12か月）" / "Per month (last 12 months)";
        COL_DAY = "日付" / "Day";
        COL_MONTH = "月" / "Month";
        COL_TOTAL = "合計" / "Total";
        COL_RATE = "利用率" / "Rate";
        LINK_EXTENSION = "拡張機能" / "Extension";
        LINK_HELPER = "ヘルパー" / "Helper";
        LINK_READER = "カードリーダー" / "Card reader";
        LINK_CARD = "カード" / "Card";
        LINK_NETWORK = "回線" / "Network";
        LINK_STORE = "共有データベース" / "Shared database";
        ENTRY_TITLE = "保険証・資格確認書の入力" / "Insurance card / eligibility certificate";
        ENTRY_HINT = "Tabで次の欄へ、Enterで照会、Escで全部消去します。" / "Tab moves on, Enter checks, Esc clears all.";
        F_INSURER = "保険者番号" / "Insurer number";
        F_SYMBOL = "記号" / "Symbol";
        F_NUMBER = "番号" / "Number";
        F_BRANCH = "枝番" / "Branch";
        F_BIRTH = "生年月日" / "Birth date";
        DOC_LEGEND = "お持ちの書類" / "Document in hand";
        TREATMENT_LEGEND = "診療の場（この確認）" / "Where this patient is treated";
        TREATMENT_HINT_OUTPATIENT = "受付（外来）での確認です。" / "A check at the reception desk (outpatient).";
        TREATMENT_HINT_HOME = "訪問診療：患者さんのお宅で、このPCと読み取り機で確認します。結果と閲覧は訪問診療として記録されます。" / "Home visit: checked at the patient's home with this PC and reader; the result and any viewing are recorded as a home visit.";
        TREATMENT_HINT_ONLINE = "オンライン診療：患者さんはこの読み取り機の前にいません。患者さんから保険者番号・記号・番号を聞いて、番号で確認します。" / "Online consultation: the patient is not at this reader; ask for the insurance numbers and check by numbers.";
        CARD_ONLINE = "オンライン診療ではカードを読み取れません。番号で確認してください。" / "No card can be read in an online consultation; check by numbers.";
        DOC_HINT_CERTIFICATE = "資格確認書の番号を入力します。有効期限も結果で確かめます。" / "Type the numbers on the eligibility certificate; its validity is checked with the result.";
        DOC_HINT_NOTICE = "資格情報のお知らせはマイナンバーカードと一緒に提示されるものです。カードが読めないときに、この番号で確認します。" / "The eligibility notice comes with the My Number card; its numbers are used when the card cannot be read.";
        DOC_HINT_CARD = "従来の健康保険証は2025年12月1日までが有効期限です（経過措置は2026年3月31日まで）。" / "Old insurance cards expired on 2025-12-01 (transition until 2026-03-31).";
        F_LIMIT = "限度額適用認定証の情報も照会する（本人の同意あり）" / "Also ask for the ceiling category (patient agreed)";
        SUBMIT = "照会する (Enter)" / "Check (Enter)";
        CLEAR = "消去 (Esc)" / "Clear (Esc)";
        SENDING = "照会中です…" / "Checking…";
        CARD_TITLE = "マイナ保険証で確認" / "Check with the My Number card";
        CARD_MODE = "本人確認の方法" / "How the holder is verified";
        MODE_PIN = "暗証番号（4桁）" / "PIN (4 digits)";
        MODE_PIN_HELP = "患者さんが拡張機能の暗証番号ウィンドウに入力します。受付の方は入力しないでください。" / "The patient types it in the extension's PIN window. Staff never type it.";
        MODE_VISUAL = "目視確認" / "Visual check";
        MODE_VISUAL_HELP = "カードの顔写真とご本人を受付の方が見比べます。暗証番号は使いません。" / "Staff compare the card photo with the patient. No PIN.";
        CONSENTS = "患者さんの同意（患者さんに聞いて選んでください）" / "The patient's consent (ask them and tick)";
        C_MEDICATION = "お薬の情報（過去に処方・調剤されたお薬）を医師・薬剤師が見ることに同意" / "Doctors and pharmacists may see past medication";
        C_DIAGNOSIS = "診療の情報（受けた診療・手術など）を見ることに同意" / "They may see past diagnoses and procedures";
        C_CHECKUP = "特定健診の結果を見ることに同意" / "They may see health-check results";
        C_LIMIT = "限度額適用区分（窓口での支払い上限）を見ることに同意" / "They may see the payment-ceiling category";
        C_DISEASE = "特定疾病療養受療証（人工透析など）の情報を見ることに同意" / "They may see specified-disease certificates (e.g. dialysis)";
        CARD_START = "カードで確認する" / "Check with the card";
        CARD_CANCEL = "取り消す" / "Cancel";
        REGISTER_TITLE = "保険証利用登録がまだです" / "The card is not registered for insurance use";
        REGISTER_BODY = "このカードは健康保険証としての利用登録がされていません。患者さんが同意したら「保険証利用登録をする」を押してください。患者さんに暗証番号ウィンドウで4桁の暗証番号を入力していただくと登録され、続けて自動でもう一度カード確認します。登録しない場合は保険証・資格確認書の入力で確認できます。" / "This card is not registered for insurance use. If the patient agrees, press \"Register this card for insurance use\". The patient types the 4-digit PIN in the PIN window; the card is registered and checked again automatically. Otherwise, check with the insurance card numbers.";
        REGISTER_DO = "保険証利用登録をする" / "Register this card for insurance use";
        REGISTER_ACTION = "保険証入力へ" / "Enter card numbers instead";
        CERT_EXPIRED_ACTION = "資格確認書・お知らせの番号で確認" / "Check with the eligibility certificate's numbers";
        CERT_GRACE_TITLE = "資格情報のみの確認です（電子証明書の期限切れ）" / "Qualification only (the card's certificate has expired)";
        CERT_SOON_TITLE = "電子証明書の更新のご案内" / "Certificate renewal reminder";
        STEP_REGISTER_PIN = "保険証利用登録のため、患者さんに暗証番号ウィンドウで4桁の暗証番号を入力していただいてください。" / "To register the card, ask the patient to type the 4-digit PIN in the PIN window.";
        STEP_REGISTERED = "保険証利用登録ができました。続けてカード確認をしています…" / "The card is registered for insurance use. Checking it again…";
        CONSENTED = "同意" / "Consented";
        NO_CONSENT = "同意なし" / "No consent";
        CS_MEDICATION = "薬剤" / "medication";
        CS_DIAGNOSIS = "診療" / "diagnoses";
        CS_CHECKUP = "健診" / "health checks";
        CS_LIMIT = "限度額" / "ceiling";
        CS_DISEASE = "特定疾病" / "specified disease";
        RESULT_TITLE = "確認結果" / "Result";
        RESULT_NONE = "まだ結果はありません。保険証入力かマイナ保険証で照会するか、結果XMLファイルを読み込んでください。" / "No result yet. Check a card, or load a result XML file.";
        LOAD_RESULT = "結果XMLを読み込む" / "Load a result XML";
        LOAD_STORED = "院内の登録内容（XML）を読み込む" / "Load the clinic's stored record (XML)";
        PRINT = "印刷" / "Print";
        DETAILS = "資格の内容" / "Details";
        CONSENT_LIST = "同意の状況" / "Consents";
        WARNINGS = "注意" / "Warnings";
        DIFF_TITLE = "院内の登録内容との違い" / "Changes against the clinic's record";
        DIFF_NONE = "院内の登録内容と違いはありません。" / "No changes against the clinic's record.";
        DIFF_NO_RECORD = "比較する院内の登録内容がありません（本日の前回結果もありません）。" / "No stored record to compare with (no earlier result today).";
        DIFF_FROM_TODAY = "比較対象：本日の前回の結果" / "Compared with: today's earlier result";
        DIFF_FROM_FILE = "比較対象：読み込んだ登録内容" / "Compared with: the loaded record";
        BEFORE = "登録内容" / "Stored";
        AFTER = "今回の結果" / "Now";
        D_NAME = "氏名" / "Name";
        D_KANA = "カナ氏名" / "Name (kana)";
        D_BIRTH = "生年月日" / "Birth date";
        D_SEX = "性別" / "Sex";
        D_DOCUMENT = "提示書類" / "Document shown";
        D_TREATMENT = "診療の場" / "Treated";
        D_INSURER = "保険者" / "Insurer";
        D_NUMBERS = "記号・番号・枝番" / "Symbol · number · branch";
        D_CARD_CLASS = "保険証区分" / "Card type";
        D_FAMILY = "本人・家族" / "Self / family";
        D_RATIO = "負担割合" / "Co-payment";
        D_QUALIFIED = "資格取得日" / "Qualified since";
        D_LOST = "資格喪失日" / "Qualification lost";
        D_EXPIRES = "有効期限" / "Card valid until";
        D_ELDERLY = "高齢受給者証" / "Elderly certificate";
        D_CEILING = "限度額適用区分" / "Ceiling category";
        D_DISEASE = "特定疾病" / "Specified disease";
        D_PUBLIC = "公費（医療券等）" / "Public assistance";
        D_NONE = "なし" / "none";
        K_MEDICATION = "薬剤情報" / "Medication";
        K_DIAGNOSIS = "診療情報" / "Diagnosis";
        K_OPERATION = "手術情報" / "Procedures";
        K_CHECKUP = "特定健診情報" / "Health checks";
        K_LIMIT = "限度額情報" / "Ceiling category";
        K_DISEASE = "特定疾病情報" / "Specified disease";
        DESK_TITLE = "本日の受付" / "Today's checks";
        DESK_SEARCH = "氏名・カナ・番号で検索" / "Search by name, kana or number";
        DESK_EMPTY = "本日の確認はまだありません。" / "No checks yet today.";
        DESK_NEEDS_HELPER = "本日の一覧はヘルパーに保存されています。ヘルパーにつながると表示されます。" / "Today's list is kept by the helper; it appears once the helper is connected.";
        DESK_RELOAD = "再読み込み" / "Reload";
        COL_TIME = "時刻" / "Time";
        COL_HOW = "方法" / "How";
        COL_NAME = "氏名" / "Name";
        COL_NUMBER = "保険者番号・番号" / "Insurer · number";
        COL_OUTCOME = "結果" / "Outcome";
        HOW_PIN = "カード(暗証番号)" / "Card (PIN)";
        HOW_VISUAL = "カード(目視)" / "Card (visual)";
        HOW_INSURANCE = "保険証入力" / "Card numbers";
        HOW_FACE = "顔認証" / "Face reader";
        SETTINGS_TITLE = "設定・診断" / "Settings and diagnostics";
        PAIR_TITLE = "このページをこのパソコンのヘルパーと接続（ペアリング）" / "Pair this page with this PC's helper";
        PAIR_HELP = "ボタンを押すと、拡張機能のウィンドウが開きます。下のコードと同じコードが表示されていることを確かめて「承認」を押してください。" / "Press the button; the extension opens a window. Check it shows the same code as below, then press Approve.";
        PAIR_START = "ペアリングを始める" / "Start pairing";
        PAIR_CODE = "確認コード" / "Code";
        PAIR_DONE = "ペアリングしました。" / "Paired.";
        PAIR_DENIED = "ペアリングは拒否されました。もう一度始めてください。" / "Pairing was denied. Start again.";
        RECHECK = "状態を確認し直す" / "Check again";
        LANGUAGE = "表示言語" / "Language";
        VERSIONS = "バージョン" / "Versions";
        HISTORY_NEEDS_RESULT = "薬剤・健診情報は、資格確認の結果（マイナンバーカードでの同意つき）を表示してから閲覧できます。先にカードで資格確認を行ってください。" / "Medication and health-check history can be viewed after an eligibility result (with the patient's consent on the My Number card) is on screen. Check the card first.";
        NEED_HELPER = "オンラインでの照会には、拡張機能とヘルパー（このパソコンの常駐プログラム）が必要です。入力内容の確認はこのままできます。「設定・診断」で何が足りないか確かめてください。" / "Online checks need the browser extension and the helper (the program on this PC). Checking what you typed works without them. See Settings for what is missing.";
        FIX_FIELDS = "赤い欄を直してから照会してください。" / "Fix the fields in red, then check.";
        STEP_WAIT_CARD = "カードをリーダーに置いてください。" / "Place the card on the reader.";
        STEP_PIN = "患者さんに、開いた暗証番号ウィンドウで4桁の暗証番号を入力していただいてください。" / "Ask the patient to type the 4-digit PIN in the PIN window that opened.";
        STEP_QUERY = "資格を照会しています…" / "Querying the eligibility system…";
        LAST_TRY = "暗証番号はあと1回で使えなくなります（ロックされると市区町村の窓口での手続きが必要です）。自信がなければ目視確認に切り替えてください。" / "One PIN try left: a locked card needs a trip to the city office. If unsure, switch to visual check.";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_is_japanese() {
        for l in [Lang::Ja, Lang::En] {
            assert_eq!(Lang::from_code(l.code()), l);
        }
        assert_eq!(Lang::from_code("fr"), Lang::Ja);
    }

    #[test]
    fn order_puts_the_chosen_language_first() {
        let t = Bilingual::new("日本語", "English");
        assert_eq!(Lang::Ja.order(&t), ("日本語", "English"));
        assert_eq!(Lang::En.order(&t), ("English", "日本語"));
    }

    #[test]
    fn every_table_entry_has_both_languages() {
        for tx in t::ALL {
            assert!(!tx.ja.trim().is_empty() && !tx.en.trim().is_empty(), "{tx:?}");
            // Japanese text should actually be Japanese (some non-ASCII).
            assert!(!tx.ja.is_ascii() || tx.ja == "English", "{tx:?}");
        }
    }
}
