// Starts the page: loads the wasm-bindgen glue and the page's WebAssembly.
// A file, not an inline <script>: the page's Content-Security-Policy runs no
// inline script at all (onshi-core `page_policy`), so that a script slipped
// into the HTML cannot run with the page's paired origin.
import init from "./onshi_web.js";

init({ module_or_path: "./onshi_web_bg.wasm" });
