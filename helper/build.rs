//! Bakes the Chromium extension id into the binary when the extension
//! publishes it in `extension/extension-id.txt`; `install --extension-id`
//! overrides it, and without either `install` asks for the flag.

fn main() {
    // Watching the folder (not the file) also notices the file appearing.
    println!("cargo:rerun-if-changed=../extension");
    if let Ok(text) = std::fs::read_to_string("../extension/extension-id.txt") {
        let id = text.trim();
        if id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b)) {
            println!("cargo:rustc-env=ONSHI_EXTENSION_ID={id}");
        } else {
            println!("cargo:warning=extension/extension-id.txt does not hold a 32-letter a-p id; ignored");
        }
    }
}
