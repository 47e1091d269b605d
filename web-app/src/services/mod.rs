//! Services: the only code that leaves the page (the extension, the clock,
//! localStorage, files). Components never call them; the app shell does.

pub mod browser;
pub mod helper;
