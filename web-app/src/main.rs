//! Entry point of the WebAssembly build: mounts the app on `<body>`.
//! Natively this binary does nothing; the lib holds everything testable.

fn main() {
    #[cfg(target_arch = "wasm32")]
    yew::Renderer::<onshi_web::App>::new().render();
}
