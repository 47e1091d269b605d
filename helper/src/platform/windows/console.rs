//! The console's input echo, turned off while a secret is typed. Win32 FFI
//! with the smallest possible `unsafe` blocks; the original mode is put back
//! on every path (the guard's drop).
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::{HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Console::{
    GetConsoleMode, GetStdHandle, SetConsoleMode, CONSOLE_MODE, ENABLE_ECHO_INPUT, ENABLE_LINE_INPUT, STD_INPUT_HANDLE,
};

use crate::platform::SecretInputError;

/// The console's echo, off until dropped; the mode found is then restored.
pub struct EchoOff {
    input: HANDLE,
    mode: CONSOLE_MODE,
}

impl EchoOff {
    /// Refuses stdin that is not a console (a pipe or a file has no console
    /// mode), then turns echo off and keeps line input on, so a whole line
    /// is read.
    pub fn new() -> Result<EchoOff, SecretInputError> {
        // SAFETY: plain call; the handle is borrowed from the process (never
        // closed here), and a null or invalid one is checked.
        let input = unsafe { GetStdHandle(STD_INPUT_HANDLE) };
        if input.is_null() || input == INVALID_HANDLE_VALUE {
            return Err(SecretInputError::NotAConsole);
        }
        let mut mode: CONSOLE_MODE = 0;
        // SAFETY: `mode` is a valid out pointer; the call fails on anything
        // but a console input handle.
        if unsafe { GetConsoleMode(input, &mut mode) } == 0 {
            return Err(SecretInputError::NotAConsole);
        }
        // SAFETY: `input` is the console input handle checked above.
        if unsafe { SetConsoleMode(input, (mode | ENABLE_LINE_INPUT) & !ENABLE_ECHO_INPUT) } == 0 {
            return Err(SecretInputError::CannotHideInput { tool: "SetConsoleMode" });
        }
        Ok(EchoOff { input, mode })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: the same console input handle, still open (stdin lives as
        // long as the process); the mode is the one GetConsoleMode gave.
        unsafe { SetConsoleMode(self.input, self.mode) };
    }
}
