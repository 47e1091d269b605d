//! The frames around message bodies: [`ToHelper`] (background → helper) and
//! [`FromHelper`] (helper → background: reply, event or chunk), the version
//! check, and the access rules with their proof type.
//!
//! The `origin` and `via` of a [`ToHelper`] are written by the extension's
//! background from the browser's sender information. Nothing here reads them
//! from a body, and the content script strips such fields from page messages.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::chunk::Chunk;
use super::error::{ErrorCode, ErrorDetail, ProtocolError};
use super::message::{Access, Event, Request, Response};
use super::PROTOCOL_VERSION;

/// Longest request id accepted (characters).
pub const MAX_ID_CHARS: usize = 64;

/// The oldest protocol version this build still speaks.
const MIN_SUPPORTED_VERSION: u32 = 1;

/// Who sent a frame, as the extension's background knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A web page, relayed by the content script.
    Page,
    /// One of the extension's own pages (pairing window, PIN window, options).
    Extension,
}

/// Is `found` a protocol version this build can talk to?
pub fn check_version(found: u32) -> Result<(), ProtocolError> {
    if (MIN_SUPPORTED_VERSION..=PROTOCOL_VERSION).contains(&found) {
        Ok(())
    } else {
        Err(ProtocolError::version_mismatch(PROTOCOL_VERSION, found))
    }
}

/// A frame from the browser to the helper:
/// `{"v":1,"id":…,"origin":…,"via":"page"|"extension","body":{"type":…}}`.
/// Build one from text with [`ToHelper::parse`], which checks everything.
#[derive(Debug, PartialEq, Serialize)]
pub struct ToHelper {
    /// Protocol version ([`PROTOCOL_VERSION`]).
    pub v: u32,
    /// Request id chosen by the page (≤ [`MAX_ID_CHARS`] characters), echoed in the reply.
    pub id: String,
    /// The sender's origin from the browser, e.g. `https://clinic.example`;
    /// for the extension's own pages, `chrome-extension://<id>` or `moz-extension://<uuid>`.
    pub origin: String,
    /// Page or extension, set by the background.
    pub via: Via,
    /// What is asked.
    pub body: Request,
}

/// Why an incoming frame was refused. Carries the request id when one could
/// be read, so the helper can still answer the right request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not a JSON object, or an envelope field has the wrong type.
    #[error("malformed frame: {reason}")]
    Malformed { id: Option<String>, reason: String },
    /// `v` is missing or a version this build does not speak.
    #[error("protocol version {found:?} not supported")]
    Version { id: Option<String>, found: Option<u32> },
    /// The id is longer than [`MAX_ID_CHARS`] or empty.
    #[error("request id must be 1..={MAX_ID_CHARS} characters, got {chars}")]
    BadId { id: Option<String>, chars: usize },
    /// `body.type` names no request of this version.
    #[error("unknown request type {found:?}")]
    UnknownType { id: String, found: String },
    /// The body's fields do not fit its type. The reason never quotes a PIN.
    #[error("bad {request_type} body: {reason}")]
    BadBody { id: String, request_type: &'static str, reason: String },
}

impl RequestError {
    /// The request id, if the frame had a readable one.
    pub fn id(&self) -> Option<&str> {
        match self {
            RequestError::Malformed { id, .. } | RequestError::Version { id, .. } | RequestError::BadId { id, .. } => {
                id.as_deref()
            }
            RequestError::UnknownType { id, .. } | RequestError::BadBody { id, .. } => Some(id),
        }
    }

    /// The error to send back (`bad_request`, `version_mismatch`,
    /// `unsupported_request` or `invalid_argument`).
    pub fn to_protocol_error(&self) -> ProtocolError {
        match self {
            RequestError::Malformed { reason, .. } => ProtocolError::new(ErrorCode::BadRequest)
                .with_detail(ErrorDetail { reason: Some(reason.clone()), ..ErrorDetail::default() }),
            RequestError::Version { found, .. } => ProtocolError::version_mismatch(PROTOCOL_VERSION, found.unwrap_or(0)),
            RequestError::BadId { .. } => ProtocolError::new(ErrorCode::BadRequest)
                .with_detail(ErrorDetail { reason: Some(self.to_string()), ..ErrorDetail::default() }),
            RequestError::UnknownType { found, .. } => ProtocolError::new(ErrorCode::UnsupportedRequest)
                .with_detail(ErrorDetail { request_type: Some(found.clone()), ..ErrorDetail::default() }),
            RequestError::BadBody { request_type, reason, .. } => {
                ProtocolError::invalid_argument(*request_type, reason.clone())
            }
        }
    }
}

#[derive(Deserialize)]
struct RawToHelper<'a> {
    #[serde(default)]
    v: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    via: Option<Via>,
    #[serde(borrow, default)]
    body: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    ty: String,
}

impl ToHelper {
    /// Parse and check a frame's JSON text: envelope shape, version, id
    /// length, known `type`, body fields. Unknown extra fields are ignored.
    ///
    /// The caller should wipe `text` afterwards if it may hold a PIN.
    pub fn parse(text: &str) -> Result<ToHelper, RequestError> {
        let raw: RawToHelper<'_> = serde_json::from_str(text).map_err(|e| RequestError::Malformed {
            // The envelope may be broken only in one field; try for the id anyway.
            id: serde_json::from_str::<IdOnly>(text).ok().and_then(|r| r.id),
            reason: e.to_string(),
        })?;
        let id = raw.id;
        let Some(v) = raw.v else { return Err(RequestError::Version { id, found: None }) };
        if check_version(v).is_err() {
            return Err(RequestError::Version { id, found: Some(v) });
        }
        let chars = id.as_deref().map_or(0, |i| i.chars().count());
        let id = match id {
            Some(id) if (1..=MAX_ID_CHARS).contains(&chars) => id,
            id => return Err(RequestError::BadId { id, chars }),
        };
        let malformed = |reason: &str| RequestError::Malformed { id: Some(id.clone()), reason: reason.to_owned() };
        let origin = raw.origin.filter(|o| !o.is_empty()).ok_or_else(|| malformed("origin missing"))?;
        let via = raw.via.ok_or_else(|| malformed("via missing"))?;
        let body = raw.body.ok_or_else(|| malformed("body missing"))?;
        let ty = serde_json::from_str::<TypeOnly>(body.get())
            .map_err(|_| malformed("body.type missing or not a string"))?
            .ty;
        let Some(&request_type) = Request::TYPES.iter().find(|t| **t == ty) else {
            return Err(RequestError::UnknownType { id, found: ty });
        };
        let body = serde_json::from_str::<Request>(body.get())
            .map_err(|e| RequestError::BadBody { id: id.clone(), request_type, reason: e.to_string() })?;
        Ok(ToHelper { v, id, origin, via, body })
    }

    /// Who may send this frame's request, checked against `via` and whether
    /// the origin is paired (the helper looks that up in its store).
    pub fn authorize(&self, origin_paired: bool) -> Result<Authorized, ProtocolError> {
        match self.body.access() {
            Access::Anyone => Ok(Authorized(())),
            Access::ExtensionOnly => require_extension(self).map(|_| Authorized(())),
            Access::Paired if self.via == Via::Extension || origin_paired => Ok(Authorized(())),
            Access::Paired => Err(ProtocolError::new(ErrorCode::NotPaired)),
        }
    }
}

/// Proof that a frame came from the extension's own UI (pairing window, PIN
/// window, options page). Handlers for `pair_approve`, `pin_entry`,
/// `pairings_list` and `pair_revoke` take one, so the check cannot be skipped.
#[derive(Debug)]
pub struct FromExtensionUi(());

/// Proof that [`ToHelper::authorize`] passed for a frame.
#[derive(Debug)]
pub struct Authorized(());

/// The only way to get a [`FromExtensionUi`]: `via` must be `extension`.
pub fn require_extension(frame: &ToHelper) -> Result<FromExtensionUi, ProtocolError> {
    match frame.via {
        Via::Extension => Ok(FromExtensionUi(())),
        Via::Page => Err(ProtocolError::new(ErrorCode::ExtensionOnly)),
    }
}

/// A frame from the helper to the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromHelper {
    /// `{"v":1,"id":…,"ok":true,"body":{…}}` or `{"v":1,"id":…,"ok":false,"error":{…}}`.
    Reply { id: String, result: Result<Response, ProtocolError> },
    /// `{"v":1,"event":{…},"origin":"…"|null}`; `None` = every paired origin.
    Event { event: Event, origin: Option<String> },
    /// `{"v":1,"id":…,"chunk":{"index":i,"count":n,"data":"…"}}`.
    Chunk { id: String, chunk: Chunk },
}

impl FromHelper {
    /// A successful reply.
    pub fn ok(id: impl Into<String>, body: Response) -> Self {
        FromHelper::Reply { id: id.into(), result: Ok(body) }
    }

    /// An error reply.
    pub fn err(id: impl Into<String>, error: ProtocolError) -> Self {
        FromHelper::Reply { id: id.into(), result: Err(error) }
    }

    /// An event for one origin, or for all paired origins (`None`).
    pub fn event(event: Event, origin: Option<String>) -> Self {
        FromHelper::Event { event, origin }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string and
        // no Serialize impl here returns an error.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parse a frame's JSON text (the web app and tests use this); a
    /// different `v` is reported as `version_mismatch`, anything else
    /// malformed as `bad_request`.
    pub fn parse(text: &str) -> Result<FromHelper, ProtocolError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            v: Option<u32>,
        }
        if let Ok(VersionOnly { v: Some(v) }) = serde_json::from_str(text) {
            check_version(v)?;
        }
        serde_json::from_str(text).map_err(|e| {
            ProtocolError::new(ErrorCode::BadRequest)
                .with_detail(ErrorDetail { reason: Some(e.to_string()), ..ErrorDetail::default() })
        })
    }
}

impl Serialize for FromHelper {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("v", &PROTOCOL_VERSION)?;
        match self {
            FromHelper::Reply { id, result: Ok(body) } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("ok", &true)?;
                m.serialize_entry("body", body)?;
            }
            FromHelper::Reply { id, result: Err(error) } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("ok", &false)?;
                m.serialize_entry("error", error)?;
            }
            FromHelper::Event { event, origin } => {
                m.serialize_entry("event", event)?;
                m.serialize_entry("origin", origin)?;
            }
            FromHelper::Chunk { id, chunk } => {
                m.serialize_entry("id", id)?;
                m.serialize_entry("chunk", chunk)?;
            }
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for FromHelper {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FromHelper, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            v: u32,
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            ok: Option<bool>,
            #[serde(default)]
            body: Option<Response>,
            #[serde(default)]
            error: Option<ProtocolError>,
            #[serde(default)]
            event: Option<Event>,
            #[serde(default)]
            origin: Option<String>,
            #[serde(default)]
            chunk: Option<Chunk>,
        }
        let raw = Raw::deserialize(d)?;
        if check_version(raw.v).is_err() {
            return Err(de::Error::custom(format_args!("protocol version {} not supported", raw.v)));
        }
        match raw {
            Raw { event: Some(event), origin, .. } => Ok(FromHelper::Event { event, origin }),
            Raw { id: Some(id), chunk: Some(chunk), .. } => Ok(FromHelper::Chunk { id, chunk }),
            Raw { id: Some(id), ok: Some(true), body: Some(body), .. } => Ok(FromHelper::ok(id, body)),
            Raw { id: Some(id), ok: Some(false), error: Some(error), .. } => Ok(FromHelper::err(id, error)),
            _ => Err(de::Error::custom("not a reply, event or chunk frame")),
        }
    }
}
