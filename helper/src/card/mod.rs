//! The My Number card stack, in layers that each use only the one below:
//! [`transport`] (PC/SC bytes) → [`apdu`] (commands, status words) →
//! [`jpki`] (the JPKI applet, domain errors) → [`flows`] (what the helper
//! offers, mapped to protocol error codes). [`events`] watches readers and
//! cards on its own thread. Only the JPKI user-authentication applet is
//! ever selected; the card-face applets have no code path in this crate.

pub mod access;
pub mod apdu;
pub mod events;
pub mod flows;
pub mod jpki;
pub mod transport;

#[cfg(test)]
pub(crate) mod testing;
