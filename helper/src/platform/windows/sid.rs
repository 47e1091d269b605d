//! User SIDs (of this process, of a pipe's other end) and the pipe's
//! security descriptor. Win32 FFI with the smallest possible `unsafe`
//! blocks; every handle is closed and every buffer freed on all paths.
#![allow(unsafe_code)]

use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{GetLengthSid, GetTokenInformation, TokenUser, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER};
use windows_sys::Win32::System::Pipes::{GetNamedPipeClientProcessId, GetNamedPipeServerProcessId};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION};

/// A user SID, copied out of the token that held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sid(Vec<u8>);

/// Closes a handle when dropped.
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle was returned open by a Win32 call and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

impl Sid {
    /// The user this process runs as.
    pub fn of_current_process() -> std::io::Result<Sid> {
        // SAFETY: the pseudo-handle of the current process needs no closing.
        Sid::of_process_handle(unsafe { GetCurrentProcess() })
    }

    fn of_process_id(pid: u32) -> std::io::Result<Sid> {
        // SAFETY: plain call; a null result is checked.
        let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if process.is_null() {
            return Err(last_error());
        }
        let process = Owned(process);
        Sid::of_process_handle(process.0)
    }

    fn of_process_handle(process: HANDLE) -> std::io::Result<Sid> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: `token` is a valid out pointer.
        if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
            return Err(last_error());
        }
        let token = Owned(token);
        let mut len = 0u32;
        // SAFETY: a size query with no buffer; it fails with the needed length.
        unsafe { GetTokenInformation(token.0, TokenUser, std::ptr::null_mut(), 0, &mut len) };
        if len == 0 {
            return Err(last_error());
        }
        // u64 elements: TOKEN_USER starts with a pointer and must be aligned.
        let mut buf = vec![0u64; (len as usize).div_ceil(8)];
        // SAFETY: `buf` holds at least `len` bytes.
        if unsafe { GetTokenInformation(token.0, TokenUser, buf.as_mut_ptr().cast(), len, &mut len) } == 0 {
            return Err(last_error());
        }
        // SAFETY: the call filled `buf` with a TOKEN_USER whose SID points
        // inside `buf`; both are read before `buf` is dropped.
        unsafe {
            let user = &*(buf.as_ptr() as *const TOKEN_USER);
            let sid = user.User.Sid;
            let n = GetLengthSid(sid) as usize;
            Ok(Sid(std::slice::from_raw_parts(sid as *const u8, n).to_vec()))
        }
    }

    /// The `S-1-5-21-…` form.
    pub fn to_string_form(&self) -> std::io::Result<String> {
        let mut out: *mut u16 = std::ptr::null_mut();
        // SAFETY: `self.0` is a SID copied from a token; the string is freed below.
        if unsafe { ConvertSidToStringSidW(self.0.as_ptr() as *mut _, &mut out) } == 0 {
            return Err(last_error());
        }
        // SAFETY: `out` is a NUL-terminated UTF-16 string from LocalAlloc.
        let text = unsafe {
            let len = (0..).take_while(|&i| *out.add(i) != 0).count();
            let text = String::from_utf16_lossy(std::slice::from_raw_parts(out, len));
            LocalFree(out.cast());
            text
        };
        Ok(text)
    }
}

/// The user of the process at the client end of a server pipe.
pub fn of_pipe_client(pipe: &impl AsRawHandle) -> std::io::Result<Sid> {
    let mut pid = 0u32;
    // SAFETY: the pipe handle is open for the borrow; `pid` is a valid out pointer.
    if unsafe { GetNamedPipeClientProcessId(pipe.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(last_error());
    }
    Sid::of_process_id(pid)
}

/// The user of the process that created the pipe a client opened.
pub fn of_pipe_server(pipe: &impl AsRawHandle) -> std::io::Result<Sid> {
    let mut pid = 0u32;
    // SAFETY: as above.
    if unsafe { GetNamedPipeServerProcessId(pipe.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(last_error());
    }
    Sid::of_process_id(pid)
}

/// A security descriptor that lets only one user and SYSTEM open the pipe.
pub struct PipeSecurity {
    descriptor: PSECURITY_DESCRIPTOR,
}

// SAFETY: the descriptor is immutable after creation and only read by
// CreateNamedPipeW; it may move between the runtime's threads.
unsafe impl Send for PipeSecurity {}
unsafe impl Sync for PipeSecurity {}

impl PipeSecurity {
    /// `D:P(A;;GA;;;SY)(A;;GA;;;<user>)`: a protected DACL (nothing inherited
    /// from the default pipe DACL, which admits Everyone to read) with full
    /// access for SYSTEM and the user, and nobody else.
    pub fn for_user_and_system(user: &Sid) -> std::io::Result<PipeSecurity> {
        let sddl = format!("D:P(A;;GA;;;SY)(A;;GA;;;{})", user.to_string_form()?);
        let wide: Vec<u16> = sddl.encode_utf16().chain(Some(0)).collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; the descriptor is freed in Drop.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(wide.as_ptr(), SDDL_REVISION_1, &mut descriptor, std::ptr::null_mut())
        };
        if ok == 0 {
            return Err(last_error());
        }
        Ok(PipeSecurity { descriptor })
    }

    /// The attributes to pass when creating an instance (valid while `self` lives).
    pub fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.descriptor,
            bInheritHandle: 0,
        }
    }
}

impl Drop for PipeSecurity {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW with LocalAlloc.
        unsafe { LocalFree(self.descriptor) };
    }
}
