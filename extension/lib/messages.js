//! The bilingual texts of the errors the extension itself produces (envelope.md §5),
//! keyed by stable code. Classic-script compatible (no `export`) so the content
//! script can load it too; publishes `globalThis.OnshiMessages`. lib/errors.js builds
//! the error objects from it.
(function (root) {
  "use strict";
  root.OnshiMessages = Object.freeze({
    extension_missing: {
      retryable: false,
      ja: "ブラウザ拡張機能「Onshi 受付ブリッジ」が見つかりません。拡張機能を入れて有効にしてから、このページを再読み込みしてください。",
      en: "The browser extension \"Onshi reception bridge\" was not found. Install and enable it, then reload this page.",
    },
    extension_timeout: {
      retryable: true,
      ja: "資格確認ヘルパーから時間内に応答がありませんでした。もう一度お試しください。繰り返す場合はIT担当者にヘルパーの再起動を依頼してください。",
      en: "The Onshi helper did not answer in time. Try again; if it keeps happening, ask IT to restart the helper.",
    },
    host_not_found: {
      retryable: false,
      ja: "このPCに資格確認ヘルパーが登録されていません。IT担当者に「onshi-helper install」の実行を依頼してください。",
      en: "The Onshi helper is not registered on this PC. Ask IT to run \"onshi-helper install\".",
    },
    host_forbidden: {
      retryable: false,
      ja: "資格確認ヘルパーがこの拡張機能を許可していません(拡張機能IDの不一致)。IT担当者に「onshi-helper install」の再実行を依頼してください。",
      en: "The Onshi helper does not allow this extension (extension id mismatch). Ask IT to run \"onshi-helper install\" again.",
    },
    host_start_failed: {
      retryable: false,
      ja: "資格確認ヘルパーを起動できませんでした(プログラムが見つからないか実行できません)。IT担当者にヘルパーの再インストールを依頼してください。",
      en: "The Onshi helper could not be started (program missing or not executable). Ask IT to reinstall the helper.",
    },
    host_crashed: {
      retryable: true,
      ja: "資格確認ヘルパーとの接続が切れました。自動で再接続します。少し待ってからもう一度お試しください。",
      en: "The connection to the Onshi helper was lost. It reconnects automatically; wait a moment and try again.",
    },
    version_mismatch: {
      retryable: false,
      ja: "拡張機能と資格確認ヘルパーの版が合いません。IT担当者に両方を最新版へ更新するよう依頼してください。",
      en: "The extension and the Onshi helper versions do not match. Ask IT to update both to the latest version.",
    },
    too_large: {
      retryable: false,
      ja: "送るデータが大きすぎます。件数を分けてもう一度送ってください。",
      en: "The data is too large. Split it into smaller parts and send again.",
    },
    origin_not_allowed: {
      retryable: false,
      ja: "このページはこのPCの資格確認ヘルパーを使えません。院内の受付画面のアドレスか、IT担当者に確認してください。",
      en: "This page may not use the Onshi helper on this PC. Check that you opened the clinic's reception page address, or ask IT.",
    },
    bad_request: {
      retryable: false,
      ja: "要求の形式が正しくありません。受付ソフトの不具合の可能性があります。開発元に連絡してください。",
      en: "The request is malformed. This is likely a bug in the reception software; contact its vendor.",
    },
  });
})(globalThis);
