//! PIN window (trusted: an extension page the web page cannot see or script). The
//! PIN goes from this keypad to the background to the helper (`pin_entry`, via
//! extension) and nowhere else; it is dropped right after sending. Cancel or
//! closing the window sends `pin_cancel` (closing: the background does it).
import { errorText } from "./lib/channel.js";
import { extensionPage } from "./lib/page.js";
import { PinPad, canSubmit, warningLevel } from "./lib/pinpad.js";

const { ch, token, $, show } = extensionPage();
const pad = new PinPad();
let info = null;
let lastTryConfirmed = false;
let busy = false;

function render() {
  $("display").textContent = pad.masked();
  const level = info ? warningLevel(info.tries_left) : null;
  $("warn-low").classList.toggle("hidden", level !== "low");
  $("warn-last").classList.toggle("hidden", level !== "last");
  $("anyway").disabled = lastTryConfirmed;
  const needConfirm = level === "last" && !lastTryConfirmed;
  for (const b of $("keypad").querySelectorAll("button[data-d]")) b.disabled = busy || needConfirm;
  $("clear").disabled = busy;
  $("ok").disabled = busy || !info || !canSubmit(pad, info.tries_left, lastTryConfirmed);
}

ch.on("pin_info", (msg) => {
  const fresh = msg.info;
  if (!fresh) {
    info = null;
    $("main").classList.add("hidden");
    show("bad", "この暗証番号の要求は終了しています。受付画面に戻ってください。", "This PIN request has ended. Go back to the reception page.");
    return;
  }
  if (info && fresh.tries_left !== info.tries_left) lastTryConfirmed = false;
  info = fresh;
  busy = false;
  pad.clear();
  $("origin").textContent = info.origin ?? "";
  // Registration (利用登録) uses the same PIN; the patient should know which they are agreeing to.
  $("purpose-register").classList.toggle("hidden", info.purpose !== "register");
  const tries = info.tries_left ?? "?";
  $("tries").textContent = String(tries);
  $("tries-en").textContent = String(tries);
  $("main").classList.remove("hidden");
  show("", "", "");
  render();
});

async function submit() {
  if (busy || !info || !canSubmit(pad, info.tries_left, lastTryConfirmed)) return;
  busy = true;
  render();
  show("", "確認しています…", "Checking…");
  const body = { type: "pin_entry", confirm_id: info.confirm_id, pin: pad.take(), confirm_last_try: lastTryConfirmed };
  const pending = ch.request(body);
  body.pin = ""; // drop our reference; the pad is already cleared
  render();
  const reply = await pending;
  if (reply.ok) {
    show("ok", "確認しました。", "Done.");
    setTimeout(() => window.close(), 800);
    return;
  }
  busy = false;
  const t = errorText(reply.error);
  const left = reply.error?.detail?.tries_left;
  if (typeof left === "number" && info) {
    info.tries_left = left;
    $("tries").textContent = String(left);
    $("tries-en").textContent = String(left);
    lastTryConfirmed = false;
  }
  show("bad", t.ja, `${t.en} (${t.code})`);
  render();
}

async function cancel() {
  if (!info) return window.close();
  busy = true;
  pad.clear();
  render();
  // Wait briefly for the helper to take the cancel; closing also cancels (background).
  await Promise.race([ch.request({ type: "pin_cancel", confirm_id: info.confirm_id }), new Promise((r) => setTimeout(r, 1000))]);
  window.close();
}

$("keypad").addEventListener("click", (e) => {
  const b = e.target.closest("button");
  if (!b || b.disabled) return;
  if (b.dataset.d) pad.press(b.dataset.d);
  else if (b.id === "clear") pad.clear();
  else if (b.id === "ok") return submit();
  render();
});
$("cancel").addEventListener("click", cancel);
$("anyway").addEventListener("click", () => {
  lastTryConfirmed = true;
  render();
});
document.addEventListener("keydown", (e) => {
  if (busy) return;
  if (/^[0-9]$/.test(e.key)) {
    if (!(info && warningLevel(info.tries_left) === "last" && !lastTryConfirmed)) pad.press(e.key);
  } else if (e.key === "Backspace") pad.backspace();
  else if (e.key === "Enter") return submit();
  else if (e.key === "Escape") return cancel();
  else return;
  e.preventDefault();
  render();
});
ch.send({ kind: "pin_info", token });
