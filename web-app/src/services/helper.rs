//! The helper client over `window.postMessage` (envelope.md §1, §4): request
//! ids, the extension's ack within 1 s (no ack = `extension_missing`, an ack
//! then an error = the helper's or the extension's own code), replies
//! matched by id, and helper events for the page. `pin_needed` reaches the
//! page only as a hint; the PIN itself never passes through here.
//!
//! The wire reading and the request table are pure and tested natively;
//! [`HelperClient`] wires them to the DOM.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use onshi_core::protocol::{ErrorCode, ErrorDetail, Event, ProtocolError, Request, Response};
use serde_json::Value;

/// How long the content script has to acknowledge a message.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(1);
/// The page's own last-resort guard (the extension times out first).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(150);

/// A message the page received on `window`, once recognised.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Ack { id: String },
    Reply { id: String, result: Result<Response, ProtocolError> },
    Event(Event),
}

fn bad(reason: impl Into<String>) -> ProtocolError {
    ProtocolError::new(ErrorCode::BadRequest).with_detail(ErrorDetail { reason: Some(reason.into()), ..ErrorDetail::default() })
}

/// Reads a window message's data (as JSON). `None` for anything that is
/// not ours (other scripts use postMessage too) or our own outgoing frames.
pub fn read_incoming(data: &Value) -> Option<Incoming> {
    if data.get("onshi")?.as_u64()? != 1 {
        return None;
    }
    let id = || data.get("id").and_then(Value::as_str).map(str::to_string);
    match data.get("dir")?.as_str()? {
        "ack" => Some(Incoming::Ack { id: id()? }),
        "from-helper" => {
            let id = id()?;
            let reply = data.get("reply").cloned().unwrap_or(Value::Null);
            let result = match reply.get("ok").and_then(Value::as_bool) {
                Some(true) => serde_json::from_value::<Response>(reply.get("body").cloned().unwrap_or(Value::Null))
                    .map_err(|e| bad(format!("reply body: {e}"))),
                Some(false) => Err(serde_json::from_value::<ProtocolError>(reply.get("error").cloned().unwrap_or(Value::Null))
                    .unwrap_or_else(|e| bad(format!("error body: {e}")))),
                None => Err(bad("reply without ok")),
            };
            Some(Incoming::Reply { id, result })
        }
        "event" => {
            let ev = data.get("event")?;
            // The relay passes the helper's event body; accept the full frame too.
            let body = if ev.get("type").is_some() { ev } else { ev.get("event")? };
            serde_json::from_value::<Event>(body.clone()).ok().map(Incoming::Event)
        }
        _ => None,
    }
}

/// The message the page posts for a request.
pub fn outgoing(id: &str, body: &Request) -> Value {
    serde_json::json!({ "onshi": 1, "dir": "to-helper", "id": id, "body": body })
}

/// What became of one request, as the table sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    Reply(Result<Response, ProtocolError>),
}

/// The open requests: acked or not. Pure; timers call [`Requests::ack_deadline`]
/// and [`Requests::reply_deadline`].
#[derive(Debug, Default)]
pub struct Requests {
    open: HashMap<String, bool>,
    next: u64,
}

impl Requests {
    /// A fresh id for a new request (page-unique; ≤ 64 chars).
    pub fn open(&mut self) -> String {
        self.next += 1;
        let id = format!("p{}", self.next);
        self.open.insert(id.clone(), false);
        id
    }

    pub fn on_ack(&mut self, id: &str) {
        if let Some(a) = self.open.get_mut(id) {
            *a = true;
        }
    }

    /// A reply for an open request closes it; replies for unknown ids
    /// (another tab's, or after a timeout) are dropped.
    pub fn on_reply(&mut self, id: &str, result: Result<Response, ProtocolError>) -> Option<Settled> {
        self.open.remove(id).map(|_| Settled::Reply(result))
    }

    /// The ack timer fired: an unacknowledged request ends as `extension_missing`.
    pub fn ack_deadline(&mut self, id: &str) -> Option<Settled> {
        match self.open.get(id) {
            Some(false) => {
                self.open.remove(id);
                Some(Settled::Reply(Err(ProtocolError::new(ErrorCode::ExtensionMissing))))
            }
            _ => None,
        }
    }

    /// The page's own reply guard fired.
    pub fn reply_deadline(&mut self, id: &str) -> Option<Settled> {
        self.open.remove(id).map(|_| Settled::Reply(Err(ProtocolError::new(ErrorCode::ExtensionTimeout))))
    }

    pub fn is_open(&self, id: &str) -> bool {
        self.open.contains_key(id)
    }
}

type Waiter = yew::platform::pinned::oneshot::Sender<Result<Response, ProtocolError>>;

struct Inner {
    table: RefCell<Requests>,
    /// The shell's request numbers (see [`crate::state::Seq`]).
    seq: Cell<u64>,
    waiters: RefCell<HashMap<String, Waiter>>,
    on_event: yew::Callback<Event>,
}

impl Inner {
    fn settle(&self, id: &str, s: Option<Settled>) {
        if let Some(Settled::Reply(r)) = s
            && let Some(w) = self.waiters.borrow_mut().remove(id)
        {
            let _ = w.send(r);
        }
    }

    fn handle(&self, msg: Incoming) {
        match msg {
            Incoming::Ack { id } => self.table.borrow_mut().on_ack(&id),
            Incoming::Reply { id, result } => {
                let s = self.table.borrow_mut().on_reply(&id, result);
                self.settle(&id, s);
            }
            // The extension opens its own PIN window on `pin_needed`; the page
            // only learns that it should tell the patient to look there.
            Incoming::Event(e) => self.on_event.emit(e),
        }
    }
}

/// The client. Cheap to clone; listens on `window` while any clone lives.
#[derive(Clone)]
pub struct HelperClient {
    inner: Rc<Inner>,
    _listener: Rc<Listener>,
}

impl PartialEq for HelperClient {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The `message` listener, removed from `window` on drop.
struct Listener {
    closure: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        use wasm_bindgen::JsCast;
        if let Some(w) = web_sys::window() {
            let _ = w.remove_event_listener_with_callback("message", self.closure.as_ref().unchecked_ref());
        }
    }
}

impl HelperClient {
    /// Starts listening; helper events go to `on_event`.
    pub fn new(on_event: yew::Callback<Event>) -> HelperClient {
        use wasm_bindgen::JsCast;
        let inner = Rc::new(Inner { table: RefCell::new(Requests::default()), seq: Cell::new(0), waiters: RefCell::new(HashMap::new()), on_event });
        let weak = Rc::downgrade(&inner);
        let closure = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            // Only messages from this window (the content script posts into it).
            let Some(win) = web_sys::window() else { return };
            let same = ev.source().is_some_and(|s| {
                let w: &wasm_bindgen::JsValue = win.as_ref();
                s.loose_eq(w)
            });
            if !same {
                return;
            }
            let Some(inner) = weak.upgrade() else { return };
            let data = ev.data();
            let Ok(text) = js_sys::JSON::stringify(&data) else { return };
            let Some(text) = text.as_string() else { return };
            let Ok(value) = serde_json::from_str::<Value>(&text) else { return };
            if let Some(msg) = read_incoming(&value) {
                inner.handle(msg);
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.add_event_listener_with_callback("message", closure.as_ref().unchecked_ref());
        }
        HelperClient { inner, _listener: Rc::new(Listener { closure }) }
    }

    /// The number of the next request, in send order, for the reducer to
    /// tell a stale answer from a current one.
    pub fn next_seq(&self) -> crate::state::Seq {
        let n = self.inner.seq.get() + 1;
        self.inner.seq.set(n);
        crate::state::Seq(n)
    }

    /// Sends one request and waits for its reply (or the reason there is none).
    pub async fn request(&self, body: Request) -> Result<Response, ProtocolError> {
        let id = self.inner.table.borrow_mut().open();
        let (tx, rx) = yew::platform::pinned::oneshot::channel();
        self.inner.waiters.borrow_mut().insert(id.clone(), tx);
        if let Err(e) = post(&outgoing(&id, &body)) {
            self.inner.table.borrow_mut().on_reply(&id, Err(e.clone()));
            self.inner.waiters.borrow_mut().remove(&id);
            return Err(e);
        }
        for (delay, ack) in [(ACK_TIMEOUT, true), (REPLY_TIMEOUT, false)] {
            let inner = Rc::downgrade(&self.inner);
            let id = id.clone();
            yew::platform::spawn_local(async move {
                yew::platform::time::sleep(delay).await;
                if let Some(inner) = inner.upgrade() {
                    let s = if ack { inner.table.borrow_mut().ack_deadline(&id) } else { inner.table.borrow_mut().reply_deadline(&id) };
                    inner.settle(&id, s);
                }
            });
        }
        rx.await.unwrap_or_else(|_| Err(ProtocolError::new(ErrorCode::ExtensionTimeout)))
    }
}

fn post(msg: &Value) -> Result<(), ProtocolError> {
    let win = web_sys::window().ok_or_else(|| bad("no window"))?;
    let js = js_sys::JSON::parse(&msg.to_string()).map_err(|_| bad("could not encode the request"))?;
    let origin = win.location().origin().unwrap_or_else(|_| "*".into());
    let target = if origin == "null" { "*".to_string() } else { origin };
    win.post_message(&js, &target).map_err(|_| bad("postMessage failed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_acks_replies_errors_and_events() {
        assert_eq!(read_incoming(&json!({"onshi":1,"dir":"ack","id":"p1"})), Some(Incoming::Ack { id: "p1".into() }));
        let ok = read_incoming(&json!({"onshi":1,"dir":"from-helper","id":"p2","reply":{"v":1,"id":"w9","ok":true,"body":{"type":"today","entries":[]}}}));
        assert!(matches!(ok, Some(Incoming::Reply { id, result: Ok(Response::Today(_)) }) if id == "p2"));
        let err = read_incoming(&json!({"onshi":1,"dir":"from-helper","id":"p3","reply":{"v":1,"id":"w9","ok":false,
            "error":{"code":"host_not_found","message":{"ja":"ヘルパーが見つかりません","en":"Helper not found"},"retryable":false}}}));
        let Some(Incoming::Reply { result: Err(e), .. }) = err else { panic!("{err:?}") };
        assert_eq!(e.code, ErrorCode::HostNotFound);
        assert_eq!(e.message.ja, "ヘルパーが見つかりません", "the relayed wording is kept");
        let ev = read_incoming(&json!({"onshi":1,"dir":"event","event":{"type":"card_inserted","reader":"R"}}));
        assert_eq!(ev, Some(Incoming::Event(Event::CardInserted { reader: "R".into() })));
        let framed = read_incoming(&json!({"onshi":1,"dir":"event","event":{"v":1,"event":{"type":"card_removed","reader":"R"},"origin":null}}));
        assert_eq!(framed, Some(Incoming::Event(Event::CardRemoved { reader: "R".into() })));
    }

    #[test]
    fn ignores_what_is_not_ours() {
        for v in [json!(null), json!("x"), json!({"onshi":2,"dir":"ack","id":"a"}), json!({"dir":"ack","id":"a"}),
            json!({"onshi":1,"dir":"to-helper","id":"a","body":{"type":"status"}}), json!({"onshi":1,"dir":"ack"})] {
            assert_eq!(read_incoming(&v), None, "{v}");
        }
        // A malformed reply to our id still settles the request, as bad_request.
        let r = read_incoming(&json!({"onshi":1,"dir":"from-helper","id":"p1","reply":{"ok":true,"body":{"type":"nonsense"}}}));
        assert!(matches!(r, Some(Incoming::Reply { result: Err(ProtocolError { code: ErrorCode::BadRequest, .. }), .. })));
    }

    #[test]
    fn no_ack_means_extension_missing_and_ack_then_silence_waits() {
        let mut t = Requests::default();
        let a = t.open();
        let b = t.open();
        assert_ne!(a, b);
        t.on_ack(&b);
        let Some(Settled::Reply(Err(e))) = t.ack_deadline(&a) else { panic!("a must fail") };
        assert_eq!(e.code, ErrorCode::ExtensionMissing);
        assert_eq!(t.ack_deadline(&b), None, "acked: the helper may still answer");
        assert!(t.is_open(&b));
        let Some(Settled::Reply(Err(e))) = t.reply_deadline(&b) else { panic!("b times out") };
        assert_eq!(e.code, ErrorCode::ExtensionTimeout);
        assert_eq!(t.on_reply(&b, Ok(Response::PinCancel)), None, "late replies are dropped");
    }

    #[test]
    fn outgoing_frame_shape() {
        let v = outgoing("p1", &Request::Today);
        assert_eq!(v, json!({"onshi":1,"dir":"to-helper","id":"p1","body":{"type":"today"}}));
    }
}
