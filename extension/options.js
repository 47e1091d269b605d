//! Options page: shows the native link's state and the paired origins the helper
//! holds (`pairings_list`), and revokes them (`pair_revoke`), both via extension.
import { errorText } from "./lib/channel.js";
import { extensionPage, showLines as lines } from "./lib/page.js";

const { ch, $ } = extensionPage();

const STATE_TEXT = {
  ready: ["接続しています。", "Connected."],
  connecting: ["接続中…", "Connecting…"],
  idle: ["未接続", "Not connected."],
};

ch.on("status", ({ status }) => {
  const t = STATE_TEXT[status.state];
  if (t) {
    const v = status.hello?.helper_version ? ` (helper ${status.hello.helper_version})` : "";
    lines($("link"), status.state === "ready" ? "ok" : "", t[0] + v, t[1] + v);
  } else {
    const e = errorText(status.error);
    lines($("link"), "bad", e.ja, `${e.en} (${e.code})`);
  }
});

async function load() {
  ch.send({ kind: "status" });
  const reply = await ch.request({ type: "pairings_list" });
  const rows = $("rows");
  rows.textContent = "";
  if (!reply.ok) {
    const e = errorText(reply.error);
    lines($("status"), "bad", e.ja, `${e.en} (${e.code})`);
    return;
  }
  const list = reply.body?.pairings ?? reply.body?.origins ?? [];
  $("empty").classList.toggle("hidden", list.length > 0);
  for (const p of list) {
    const origin = typeof p === "string" ? p : p?.origin;
    if (typeof origin !== "string") continue;
    const tr = document.createElement("tr");
    const td1 = document.createElement("td");
    td1.textContent = origin;
    const td2 = document.createElement("td");
    td2.textContent = typeof p === "object" ? String(p.created_at ?? p.paired_at ?? "") : "";
    const td3 = document.createElement("td");
    const b = document.createElement("button");
    b.className = "danger";
    b.textContent = "登録を取り消す / Revoke";
    b.addEventListener("click", () => revoke(origin, b));
    td3.append(b);
    tr.append(td1, td2, td3);
    rows.append(tr);
  }
  lines($("status"), "", "", "");
}

async function revoke(origin, button) {
  if (!confirm(`${origin} の登録を取り消しますか?\nRevoke the pairing of ${origin}?`)) return;
  button.disabled = true;
  const reply = await ch.request({ type: "pair_revoke", origin });
  if (reply.ok) {
    lines($("status"), "ok", `${origin} の登録を取り消しました。`, `Revoked ${origin}.`);
    load();
  } else {
    button.disabled = false;
    const e = errorText(reply.error);
    lines($("status"), "bad", e.ja, `${e.en} (${e.code})`);
  }
}

$("refresh").addEventListener("click", load);
load();
