//! The runtime port our own pages (pairing, PIN, options) use to reach the background.
//! The background recognises them by their extension URL (sender.url), which is what
//! lets their frames carry `via: "extension"`.

let seq = 0;

/**
 * @param {object} api  `browser` or `chrome`
 * @returns {{ request: (body: object) => Promise<object>, send: (msg: object) => void, on: (kind: string, fn: Function) => void }}
 */
export function openChannel(api) {
  const port = api.runtime.connect({ name: "onshi" });
  const waiting = new Map();
  const handlers = new Map();
  let alive = true;
  port.onMessage.addListener((msg) => {
    if (!msg || typeof msg !== "object") return;
    if (msg.kind === "reply") {
      const resolve = waiting.get(msg.id);
      if (resolve) {
        waiting.delete(msg.id);
        resolve(msg.reply);
      }
    } else {
      handlers.get(msg.kind)?.(msg);
    }
  });
  port.onDisconnect.addListener(() => {
    alive = false;
    for (const [id, resolve] of waiting) resolve(lostReply(id));
    waiting.clear();
  });
  return {
    request(body) {
      seq += 1;
      const id = `e${seq}`;
      if (!alive) return Promise.resolve(lostReply(id));
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        port.postMessage({ kind: "request", id, body });
      });
    },
    send(msg) {
      if (alive) port.postMessage(msg);
    },
    on(kind, fn) {
      handlers.set(kind, fn);
    },
  };
}

function lostReply(id) {
  const m = globalThis.OnshiMessages?.host_crashed ?? { ja: "拡張機能との接続が切れました。", en: "Lost the connection to the extension." };
  return { v: 1, id, ok: false, error: { code: "host_crashed", message: { ja: m.ja, en: m.en }, retryable: true, detail: { reason: "extension_restarted" } } };
}

/** Renders a wire error as two lines, Japanese first. */
export function errorText(error) {
  const ja = error?.message?.ja ?? "エラーが発生しました。";
  const en = error?.message?.en ?? "An error occurred.";
  return { ja, en, code: error?.code ?? "unknown" };
}
