//! The five links a check depends on (extension, helper, reader, card,
//! network), and a sixth where a hospital's desks share a database (issue
//! 17): what each one's state means, and what to do about it. Pure: the
//! state changes only through helper replies, errors and events.

use onshi_core::protocol::{ErrorCode, ProtocolError, ReaderInfo, StoreStatus};
use onshi_core::text::Bilingual;

use crate::i18n::{t, Tx};

/// Whether the browser extension answered (the ack within 1 s).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Extension {
    #[default]
    Unknown,
    Present,
    Missing,
}

/// The helper behind the extension.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Helper {
    #[default]
    Unknown,
    /// Answered `hello`/`status` and this origin is paired.
    Ready { version: String },
    /// Answered, but this page's origin is not paired yet.
    NotPaired,
    /// The extension answered for it with an error (not found, crashed, version).
    Down(ProtocolError),
}

/// Readers and cards, from `status` and reader/card events.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Readers {
    #[default]
    Unknown,
    Known(Vec<ReaderInfo>),
}

/// The line to the eligibility system, as seen from the last query.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Network {
    #[default]
    Unknown,
    Ok,
    Failed(ProtocolError),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Links {
    pub extension: Extension,
    pub helper: Helper,
    pub readers: Readers,
    pub network: Network,
    /// The shared database, from `status`; `None` when the helper keeps
    /// everything on this PC (no lamp then) or has not said yet.
    pub store: Option<StoreStatus>,
}

/// How a light looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Light {
    /// Not known yet.
    Grey,
    Green,
    /// Works, but something needs doing first (pair, place the card).
    Amber,
    Red,
}

impl Light {
    pub fn as_str(self) -> &'static str {
        match self {
            Light::Grey => "grey",
            Light::Green => "green",
            Light::Amber => "amber",
            Light::Red => "red",
        }
    }
}

/// One light of the status strip: what it is, its colour, its state in a
/// few words, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Lamp {
    pub id: &'static str,
    pub label: Tx,
    pub light: Light,
    pub state: Bilingual,
    pub todo: Bilingual,
}

fn lamp(id: &'static str, label: Tx, light: Light, state: (&str, &str), todo: (&str, &str)) -> Lamp {
    Lamp { id, label, light, state: Bilingual::new(state.0, state.1), todo: Bilingual::new(todo.0, todo.1) }
}

impl Links {
    /// Online checks can be sent (the extension answered and the helper is
    /// not known to be down). `Unknown` is allowed: the request itself finds out.
    pub fn can_query(&self) -> bool {
        self.query_blocker().is_none()
    }

    /// Why an online check cannot go out now, as the error the request
    /// itself would end in, so the person reads the cause they can fix
    /// (install the extension, pair this page, start the helper). `None`
    /// when it may be sent (also while nothing is known yet: the request
    /// finds out).
    pub fn query_blocker(&self) -> Option<ProtocolError> {
        match (&self.extension, &self.helper) {
            (Extension::Missing, _) => Some(ProtocolError::new(ErrorCode::ExtensionMissing)),
            (_, Helper::NotPaired) => Some(ProtocolError::new(ErrorCode::NotPaired)),
            (_, Helper::Down(e)) => Some(e.clone()),
            (_, Helper::Ready { .. } | Helper::Unknown) => None,
        }
    }

    pub fn card_present(&self) -> bool {
        matches!(&self.readers, Readers::Known(r) if r.iter().any(|r| r.card_present))
    }

    /// Learn from an error reply which link is at fault.
    pub fn note_error(&mut self, e: &ProtocolError) {
        match e.code {
            ErrorCode::ExtensionMissing => self.extension = Extension::Missing,
            ErrorCode::HostNotFound | ErrorCode::HostCrashed | ErrorCode::VersionMismatch | ErrorCode::ExtensionTimeout => {
                self.extension = Extension::Present;
                self.helper = Helper::Down(e.clone());
            }
            ErrorCode::NotPaired => {
                self.extension = Extension::Present;
                self.helper = Helper::NotPaired;
            }
            // IT's allowlist does not name this page: no pairing will help,
            // so the helper lamp shows the helper's own words (who to ask).
            ErrorCode::OriginNotAllowed => {
                self.extension = Extension::Present;
                self.helper = Helper::Down(e.clone());
            }
            ErrorCode::NoReader => self.readers = Readers::Known(Vec::new()),
            ErrorCode::NoCard | ErrorCode::CardRemoved | ErrorCode::CardUnreadable => {
                if let Readers::Known(r) = &mut self.readers {
                    r.iter_mut().for_each(|r| r.card_present = false);
                }
            }
            ErrorCode::Network | ErrorCode::GatewayError | ErrorCode::Timeout => {
                self.network = Network::Failed(e.clone());
            }
            _ => {}
        }
    }

    /// Any good reply proves extension and helper are there.
    pub fn note_reply(&mut self) {
        self.extension = Extension::Present;
        if !matches!(self.helper, Helper::Ready { .. }) {
            self.helper = Helper::Ready { version: String::new() };
        }
    }

    /// The five lamps of the status strip, left to right, and the shared
    /// database's after them when the helper has one.
    pub fn lamps(&self) -> Vec<Lamp> {
        let ext = match self.extension {
            Extension::Unknown => lamp("extension", t::LINK_EXTENSION, Light::Grey, ("確認中", "checking"),
                ("しばらくお待ちください。", "Please wait a moment.")),
            Extension::Present => lamp("extension", t::LINK_EXTENSION, Light::Green, ("動作中", "working"),
                ("対応は不要です。", "Nothing to do.")),
            Extension::Missing => lamp("extension", t::LINK_EXTENSION, Light::Red, ("応答なし", "not answering"),
                ("拡張機能「Onshi」を入れて有効にし、このページを再読み込みしてください。", "Install and enable the Onshi extension, then reload this page.")),
        };
        let helper = match &self.helper {
            Helper::Unknown if self.extension == Extension::Missing => lamp("helper", t::LINK_HELPER, Light::Grey, ("不明", "unknown"),
                ("先に拡張機能を入れてください。", "Install the extension first.")),
            Helper::Unknown => lamp("helper", t::LINK_HELPER, Light::Grey, ("確認中", "checking"),
                ("しばらくお待ちください。", "Please wait a moment.")),
            Helper::Ready { .. } => lamp("helper", t::LINK_HELPER, Light::Green, ("接続済み", "connected"),
                ("対応は不要です。", "Nothing to do.")),
            Helper::NotPaired => lamp("helper", t::LINK_HELPER, Light::Amber, ("未ペアリング", "not paired"),
                ("「設定・診断」でペアリングを始めてください。", "Start pairing in Settings.")),
            Helper::Down(e) => {
                let m = e.message.clone();
                Lamp { id: "helper", label: t::LINK_HELPER, light: Light::Red, state: e.code.explain_short(), todo: m }
            }
        };
        let (reader, card) = match &self.readers {
            Readers::Unknown => (
                lamp("reader", t::LINK_READER, Light::Grey, ("不明", "unknown"), ("ヘルパーにつながると分かります。", "Known once the helper is connected.")),
                lamp("card", t::LINK_CARD, Light::Grey, ("不明", "unknown"), ("ヘルパーにつながると分かります。", "Known once the helper is connected.")),
            ),
            Readers::Known(r) if r.is_empty() => (
                lamp("reader", t::LINK_READER, Light::Red, ("見つかりません", "none found"), ("カードリーダーのUSBを差し直してください。", "Re-plug the card reader's USB cable.")),
                lamp("card", t::LINK_CARD, Light::Grey, ("—", "—"), ("先にリーダーをつないでください。", "Connect a reader first.")),
            ),
            Readers::Known(r) => {
                let with_card = r.iter().any(|r| r.card_present);
                (
                    lamp("reader", t::LINK_READER, Light::Green, ("接続済み", "connected"), ("対応は不要です。", "Nothing to do.")),
                    if with_card {
                        lamp("card", t::LINK_CARD, Light::Green, ("置かれています", "on the reader"), ("「マイナ保険証」で確認できます。", "Ready for the card check."))
                    } else {
                        lamp("card", t::LINK_CARD, Light::Amber, ("ありません", "no card"), ("患者さんにカードをリーダーに置いていただいてください。", "Ask the patient to place the card on the reader."))
                    },
                )
            }
        };
        let net = match &self.network {
            Network::Unknown => lamp("network", t::LINK_NETWORK, Light::Grey, ("未使用", "not used yet"), ("最初の照会で分かります。", "Known after the first check.")),
            Network::Ok => lamp("network", t::LINK_NETWORK, Light::Green, ("正常", "working"), ("対応は不要です。", "Nothing to do.")),
            Network::Failed(e) => Lamp { id: "network", label: t::LINK_NETWORK, light: Light::Red, state: e.code.explain_short(), todo: e.message.clone() },
        };
        let mut lamps = vec![ext, helper, reader, card, net];
        lamps.extend(self.store.as_ref().filter(|s| s.shared).map(store_lamp));
        lamps
    }
}

/// The shared database: green when the desk reaches it; amber while it does
/// not, or while the checks kept on this PC are still being sent. Checks go
/// on either way, so it is never red.
fn store_lamp(s: &StoreStatus) -> Lamp {
    let n = s.queued;
    let (light, state, todo) = match (s.reachable, n) {
        (true, 0) => (Light::Green, Bilingual::new("接続済み", "connected"), Bilingual::new("対応は不要です。", "Nothing to do.")),
        (true, _) => (
            Light::Amber,
            Bilingual::new(format!("送信中（{n}件）"), format!("sending ({n})")),
            Bilingual::new(
                format!("共有データベースは復旧しました。このPCに保存した結果を自動で送っています（未送信 {n}件）。対応は不要です。"),
                format!("The shared database is back; the results kept on this PC are being sent automatically ({n} not sent yet). Nothing to do."),
            ),
        ),
        (false, _) => (
            Light::Amber,
            Bilingual::new(format!("接続できません（未送信 {n}件）"), format!("unreachable ({n} not sent)")),
            Bilingual::new(
                format!("共有データベースに接続できません。結果はこのPCに保存し、復旧後に自動で送ります（未送信 {n}件）。受付での確認は続けられます。長く続くときはIT担当者に連絡してください。"),
                format!("Cannot reach the shared database. Results are kept on this PC and sent automatically when it is back ({n} not sent yet). Checks at the desk can go on; if this lasts, tell IT."),
            ),
        ),
    };
    Lamp { id: "store", label: t::LINK_STORE, light, state, todo }
}

/// A few words naming an error, for the lamp (the full message is the "what to do").
trait Short {
    fn explain_short(&self) -> Bilingual;
}

impl Short for ErrorCode {
    fn explain_short(&self) -> Bilingual {
        let (ja, en) = match self {
            ErrorCode::HostNotFound => ("未インストール", "not installed"),
            ErrorCode::HostCrashed => ("停止", "stopped"),
            ErrorCode::VersionMismatch => ("版が不一致", "version mismatch"),
            ErrorCode::ExtensionTimeout | ErrorCode::Timeout => ("応答なし", "no answer"),
            ErrorCode::Network => ("つながりません", "unreachable"),
            ErrorCode::GatewayError => ("エラー応答", "error answer"),
            _ => ("エラー", "error"),
        };
        Bilingual::new(ja, en)
    }
}
