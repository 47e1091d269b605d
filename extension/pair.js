//! Pairing window: shows the origin the browser reported for the asking page and the
//! helper's short code; staff approve or deny. Its frames carry `via: "extension"`
//! because the background sees this page's own extension URL.
import { errorText } from "./lib/channel.js";
import { extensionPage } from "./lib/page.js";

const { ch, token, $, show } = extensionPage();
let info = null;

ch.on("pair_info", (msg) => {
  info = msg.info;
  if (!info) {
    $("main").classList.add("hidden");
    show("bad", "この登録要求は見つかりません(期限切れ)。ページからやり直してください。", "This pairing request no longer exists (expired). Start again from the page.");
    return;
  }
  $("origin").textContent = info.origin;
  $("code").textContent = info.code;
  $("main").classList.remove("hidden");
  $("approve").disabled = false;
  $("deny").disabled = false;
  show("", "", "");
});

async function decide(approve) {
  if (!info) return;
  $("approve").disabled = true;
  $("deny").disabled = true;
  const reply = await ch.request({ type: "pair_approve", pairing_id: info.pairing_id, approve });
  if (reply.ok) {
    if (approve) show("ok", `${info.origin} を登録しました。`, `${info.origin} is now paired.`);
    else show("ok", "拒否しました。", "Denied.");
    setTimeout(() => window.close(), 1500);
  } else {
    const t = errorText(reply.error);
    show("bad", t.ja, `${t.en} (${t.code})`);
    $("approve").disabled = false;
    $("deny").disabled = false;
  }
}

$("approve").addEventListener("click", () => decide(true));
$("deny").addEventListener("click", () => decide(false));
ch.send({ kind: "pair_info", token });
