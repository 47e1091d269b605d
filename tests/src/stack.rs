//! The whole reception PC for end-to-end scenarios, from the demo's real
//! parts: pcscd + vpcd, the simulator's PKI, seeded registry and mutual-TLS
//! gateway, the helper service (temp config, store, socket and log), the
//! native-messaging manifest in a temp Chromium profile, the built page
//! (dist/web) served, and headless Chromium with the real extension — plus a
//! virtual My Number card put on and taken off the reader.
//!
//! How each part is started is shared with `cargo xtask demo`
//! ([`crate::demo_parts`]); this file only keeps the processes and offers
//! the receptionist's moves (pair, start a card check, type a PIN in the
//! extension's PIN window). Everything it starts is stopped by process id:
//! [`Stack::stop`] closes the browser session first (so Chromium exits), and
//! dropping the stack stops what is left, in reverse order of starting.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use fantoccini::wd::WindowHandle;
use fantoccini::Locator;

use crate::browser::{Browser, TempDir};
use crate::demo_parts::{self as parts, CardSpec};
use crate::paths;
use crate::pcscd::{Pcscd, VPCD_READER};
use crate::process::Guarded;
use crate::virtual_card::VirtualCard;
use crate::wait::{until, within};
use crate::web::WebHost;

/// Where the stack keeps its files (all inside one temp folder).
#[derive(Debug, Clone)]
pub struct StackPaths {
    pub work: PathBuf,
    /// The helper binary the service runs.
    pub helper: PathBuf,
    pub pki: PathBuf,
    pub registry: PathBuf,
    pub config: PathBuf,
    /// The helper's SQLite store (with its -wal/-shm next to it).
    pub store: PathBuf,
    pub socket: PathBuf,
    /// The helper service's stderr.
    pub helper_log: PathBuf,
    /// The gateway's stderr.
    pub gateway_log: PathBuf,
    /// The gateway's JSON-lines request log: per request its path and status,
    /// and the length and SHA-256 of the body it answered (never the body).
    pub gateway_requests: PathBuf,
    /// Every virtual card's APDUs (appended, PIN masked by the simulator).
    pub apdu_log: PathBuf,
    /// The Chromium profile holding the native-messaging manifest.
    pub profile: PathBuf,
    /// The gateway's disaster declarations (`--disaster-file`, read on every
    /// disaster request; absent = none): [`Stack::declare_disaster`].
    pub disaster: PathBuf,
}

/// Which helper the stack runs.
#[derive(Debug, Clone, Default)]
pub enum HelperFrom {
    /// The workspace build, registered in the stack's own Chromium profile.
    #[default]
    Built,
    /// An installed helper (the .deb's `/usr/bin/onshi-helper`): the service
    /// starts from this path, and the browser must find the native host
    /// through the machine-wide manifest the installer wrote, so none is
    /// written to the profile (Chromium would read that one first).
    Installed(PathBuf),
}

/// The running stack. Field order is drop order: the browser first, the card
/// and pcscd last.
pub struct Stack {
    pub browser: Browser,
    pub web: WebHost,
    /// The page's origin as the browser reports it (`http://127.0.0.1:PORT`).
    pub origin: String,
    /// The reception page's window handle (extension windows are opened in
    /// other tabs and closed again by [`Stack::back_to_page`]).
    pub page: WindowHandle,
    pub paths: StackPaths,
    pub gateway_url: String,
    /// PIN window URLs already driven (each names a one-time token; an old
    /// window may still be closing and must not be taken for a new one).
    opened: std::sync::Mutex<Vec<String>>,
    card: Option<VirtualCard>,
    /// Held while the helper is down on purpose ([`Stack::kill_helper`]).
    helper_down: Option<std::fs::File>,
    _helper: Guarded,
    _gateway: Guarded,
    _pcscd: Pcscd,
    _work: TempDir,
}

/// Runs a short command to completion; an error shows its output.
fn run(what: &str, cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "{what} failed ({}):\n{}", out.status, text.trim());
    Ok(text)
}

fn log_file(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))
}

/// Starts the helper service of `p` (its stderr appended to the helper log)
/// and waits until it accepts connections.
fn spawn_helper(p: &StackPaths) -> Result<Guarded> {
    let log = std::fs::OpenOptions::new().append(true).create(true).open(&p.helper_log)?;
    let mut c = parts::helper_service_command(&p.helper, &p.config, &p.store, &p.socket);
    // HOME: nothing of the helper's reaches the real home folder.
    c.env("HOME", &p.work).stdout(Stdio::null()).stderr(log);
    let mut service = Guarded { child: c.spawn().context("starting onshi-helper service")?, name: "onshi-helper service".into() };
    parts::wait_for_socket(&p.socket, &mut service.child, &p.helper_log, Duration::from_secs(15)).map_err(|e| anyhow!(e))?;
    Ok(service)
}

impl Stack {
    /// Starts every part and opens the reception page (unpaired).
    pub async fn start() -> Result<Self> {
        Self::start_with(HelperFrom::Built).await
    }

    /// [`Stack::start`] with the certificate-state people too (simulator
    /// `pki::CERT_CASES`, issue 14), issued relative to today in Japan — the
    /// day the helper and the gateway judge them on by their clocks, so the
    /// states hold whatever day the test runs (short of crossing midnight JST).
    pub async fn start_with_cert_cases() -> Result<Self> {
        Self::start_inner(HelperFrom::Built, true).await
    }

    /// [`Stack::start`] with the helper taken from `from`.
    pub async fn start_with(from: HelperFrom) -> Result<Self> {
        Self::start_inner(from, false).await
    }

    async fn start_inner(from: HelperFrom, cert_cases: bool) -> Result<Self> {
        // The guard holds a std MutexGuard (not Send), so it is taken on this
        // thread; block_in_place keeps the runtime's other tasks running.
        let pcscd = tokio::task::block_in_place(Pcscd::acquire)?;
        let work = TempDir::new("onshi-stack")?;
        let w = work.0.clone();
        let p = StackPaths {
            pki: w.join("pki"),
            registry: w.join("registry.sqlite"),
            config: w.join("helper.toml"),
            store: w.join("helper.sqlite"),
            socket: w.join("helper.sock"),
            helper_log: w.join("helper.log"),
            gateway_log: w.join("gateway.log"),
            gateway_requests: w.join("gateway-requests.jsonl"),
            apdu_log: w.join("apdu.jsonl"),
            profile: w.join("profile"),
            disaster: w.join("disaster.txt"),
            work: w.clone(),
            helper: match &from {
                HelperFrom::Built => paths::binary("onshi-helper")?,
                HelperFrom::Installed(exe) => exe.clone(),
            },
        };
        let sim = paths::binary("onshi-sim")?;

        let mut pki = Command::new(&sim);
        pki.args(["pki", "init"]).arg(&p.pki);
        if cert_cases {
            pki.args(["--cert-cases-on", "today"]);
        }
        run("onshi-sim pki init", &mut pki)?;
        run("onshi-sim registry seed", Command::new(&sim).args(["registry", "seed", "--db"]).arg(&p.registry))?;

        let port = parts::free_port().map_err(|e| anyhow!(e))?;
        let mut c = parts::gateway_command(&sim, &p.registry, &p.pki, port);
        c.arg("--log").arg(&p.gateway_requests).arg("--disaster-file").arg(&p.disaster);
        c.stdout(Stdio::null()).stderr(log_file(&p.gateway_log)?);
        let mut gateway = Guarded { child: c.spawn().context("starting onshi-sim gateway")?, name: "onshi-sim gateway".into() };
        parts::wait_for_port(port, &mut gateway.child, "onshi-sim gateway", Duration::from_secs(20)).map_err(|e| anyhow!(e))?;

        std::fs::write(&p.config, parts::helper_config("E2E受付", &p.store, &parts::gateway_backend_toml(port, &p.pki)))?;
        log_file(&p.helper_log)?;
        let service = spawn_helper(&p)?;

        if let HelperFrom::Built = from {
            run("onshi-helper install", parts::install_manifest_command(&p.helper, &p.profile).env("HOME", &w))?;
        }

        let web = WebHost::start()?;
        let ext = paths::workspace_root().join("extension");
        // The native host inherits chromedriver's → Chromium's environment,
        // so ONSHI_HELPER_SOCKET points it at this stack's service.
        let browser = within(
            "start chromedriver + Chromium with the extension",
            60,
            Browser::start_with(
                stack_flags(&ext),
                Some(p.profile.clone()),
                vec![("ONSHI_HELPER_SOCKET".into(), p.socket.display().to_string()), ("HOME".into(), w.display().to_string())],
            ),
        )
        .await?;
        let url = web.url.trim_end_matches('/').to_owned();
        within("open the reception page", 30, async { Ok(browser.client.goto(&format!("{url}/#settings")).await?) }).await?;
        let origin = browser.client.current_url().await?.origin().ascii_serialization();
        let page = browser.client.window().await?;
        Ok(Stack {
            browser,
            web,
            origin,
            page,
            paths: p,
            gateway_url: format!("https://127.0.0.1:{port}/"),
            opened: Default::default(),
            card: None,
            helper_down: None,
            _helper: service,
            _gateway: gateway,
            _pcscd: pcscd,
            _work: work,
        })
    }

    /// Ends a run of stories: when `result` is a failure, first a screenshot
    /// (`target/screenshots/<failure_shot>.png`) and the helper's log for
    /// whoever reads it; then everything stopped. Gives back `result`.
    pub async fn finish(self, result: Result<()>, failure_shot: &str) -> Result<()> {
        if result.is_err() {
            let _ = self.browser.screenshot(failure_shot).await;
            eprintln!("helper log:\n{}", self.helper_log().unwrap_or_default());
        }
        self.stop().await?;
        result
    }

    /// Closes the browser session (Chromium exits with it), then stops the rest.
    pub async fn stop(self) -> Result<()> {
        let Stack { browser, .. } = self;
        let _ = tokio::time::timeout(Duration::from_secs(10), browser.close()).await;
        Ok(())
    }

    // ----- the helper service going away -----------------------------------

    /// Kills the helper service (SIGKILL by its process id: a crash, not a
    /// shutdown) and keeps it down: the stack holds the service's
    /// single-instance lock, so the native host's auto-start cannot bring a
    /// service back until [`Stack::restart_helper`].
    pub fn kill_helper(&mut self) -> Result<()> {
        self._helper.child.kill().context("killing the helper service")?;
        self._helper.child.wait()?;
        let path = onshi_helper::ipc::lock_path(&self.paths.socket);
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        // The dead service's lock went with it; if it is taken, a service was
        // auto-started in the few milliseconds since, and the story is void.
        file.try_lock().map_err(|e| anyhow!("cannot keep the helper down: {} is taken ({e})", path.display()))?;
        self.helper_down = Some(file);
        Ok(())
    }

    /// Starts the helper service again with the same config, store and socket.
    pub fn restart_helper(&mut self) -> Result<()> {
        // Where a service the native host auto-starts looks for its config
        // ($HOME/.config/onshi/helper.toml): should one win the race for the
        // lock, it is this same service.
        let default = self.paths.work.join(".config/onshi/helper.toml");
        std::fs::create_dir_all(default.parent().context("config folder")?)?;
        std::fs::copy(&self.paths.config, &default)?;
        self.helper_down = None;
        self._helper = spawn_helper(&self.paths)?;
        Ok(())
    }

    // ----- the card on the reader ------------------------------------------

    /// Puts `person`'s virtual card (PIN `pin`, `tries` tries left) on the reader.
    pub async fn insert_card(&mut self, person: &str, pin: &str, tries: u8) -> Result<()> {
        self.insert(CardSpec { pin: Some(pin.into()), tries: Some(tries), ..CardSpec::person(person) }).await
    }

    /// Puts a card made from `spec` on the reader (a card already there is
    /// taken out first) and waits until PC/SC sees it.
    pub async fn insert(&mut self, spec: CardSpec) -> Result<()> {
        self.remove_card().await?;
        // On a loaded machine, vpcd sometimes does not report a card that
        // connected right after a pulled-out one (the remove_after fault);
        // putting the card on again, as a person would, gets it seen.
        let mut last = None;
        for _ in 0..2 {
            self.card = Some(VirtualCard::start(&self.paths.pki, &spec, self.paths.apdu_log.clone())?);
            match wait_reader(true).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    eprintln!("[stack] the card was not seen on the reader; putting it on again ({e:#})");
                    self.card = None;
                    let _ = wait_reader(false).await;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("the virtual card was not seen on the reader")))
    }

    /// Takes the card off the reader (stops its process by id) and waits
    /// until PC/SC sees the reader empty. Nothing on the reader: nothing to do.
    pub async fn remove_card(&mut self) -> Result<()> {
        if self.card.take().is_some() {
            wait_reader(false).await?;
        }
        Ok(())
    }

    /// Everything the virtual cards of this stack were sent and answered.
    pub fn apdu_log(&self) -> Result<String> {
        Ok(std::fs::read_to_string(&self.paths.apdu_log).unwrap_or_default())
    }

    pub fn helper_log(&self) -> Result<String> {
        Ok(String::from_utf8_lossy(&std::fs::read(&self.paths.helper_log)?).into_owned())
    }

    /// The helper store's bytes: the database file and its -wal / -shm.
    pub fn store_bytes(&self) -> Result<Vec<u8>> {
        let mut all = std::fs::read(&self.paths.store).with_context(|| format!("reading {}", self.paths.store.display()))?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = self.paths.store.clone().into_os_string();
            name.push(suffix);
            if let Ok(b) = std::fs::read(PathBuf::from(name)) {
                all.extend(b);
            }
        }
        Ok(all)
    }

    /// Makes the simulated national system declare exactly these disasters
    /// (`AREA:START-END` lines, simulator `disaster`); an empty text ends them.
    /// The running gateway reads them on its next disaster request.
    pub fn declare_disaster(&self, lines: &str) -> Result<()> {
        std::fs::write(&self.paths.disaster, lines).with_context(|| format!("writing {}", self.paths.disaster.display()))
    }

    // ----- the receptionist's moves on the page ----------------------------

    /// Goes to a screen of the reception page by its route slug (`card`, `settings`…).
    pub async fn go(&self, route: &str) -> Result<()> {
        let b = &self.browser;
        b.client.switch_to_window(self.page.clone()).await?;
        // Through the nav bar, as a person would (the app follows its own
        // route state, not later changes of location.hash).
        b.wait_for(&format!("#nav-{route}")).await?.click().await?;
        until(&format!("the {route} screen is shown"), 15, || async {
            let main = b.client.find(Locator::Css("main#main")).await?;
            Ok((main.attr("data-route").await?.as_deref() == Some(route)).then_some(()))
        })
        .await
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        self.browser.wait_for(css).await?.click().await?;
        Ok(())
    }

    /// The text of `css` once it is non-empty.
    pub async fn text(&self, css: &str) -> Result<String> {
        until(&format!("{css} has text"), 20, || async {
            let t = match self.browser.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await?,
                Err(_) => return Ok(None),
            };
            Ok(if t.trim().is_empty() { None } else { Some(t) })
        })
        .await
    }

    /// Waits until the text of `css` contains `part`; returns the text.
    pub async fn text_containing(&self, css: &str, part: &str, secs: u64) -> Result<String> {
        // The last text seen goes into the error, so a failure says what the page showed instead.
        let seen = std::sync::Mutex::new(String::new());
        let found = until(&format!("{css} says {part:?}"), secs, || async {
            let t = match self.browser.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => return Ok(None),
            };
            if let Ok(mut last) = seen.lock() {
                last.clone_from(&t);
            }
            Ok(t.contains(part).then_some(t))
        })
        .await;
        let last = seen.lock().map(|t| t.clone()).unwrap_or_default();
        found.with_context(|| format!("{css} showed instead: {last:?}"))
    }

    /// Opens the extension window whose URL contains `part` (`pair.html#`,
    /// `pin.html#`) in a tab WebDriver can drive: chromedriver does not list
    /// extension popups as windows, but the CDP targets show their URL, and
    /// the same URL (same one-time token) works in a tab. PIN windows
    /// driven before are skipped (one may still be closing); a pairing window
    /// is reused by the extension when the same page pairs again.
    pub async fn open_extension_window(&self, part: &str) -> Result<String> {
        let skip_seen = part.starts_with("pin");
        let b = &self.browser;
        let url = until(&format!("the extension opens a {part} window"), 20, || async {
            let targets = b.cdp_targets().await?;
            let seen = if skip_seen { self.opened.lock().unwrap_or_else(|p| p.into_inner()).clone() } else { Vec::new() };
            Ok(targets.into_iter().find_map(|t| {
                t["url"].as_str().filter(|u| u.contains(part) && !seen.iter().any(|s| s.as_str() == *u)).map(str::to_owned)
            }))
        })
        .await?;
        self.opened.lock().unwrap_or_else(|p| p.into_inner()).push(url.clone());
        ensure!(url.starts_with(&format!("chrome-extension://{}/", parts::EXTENSION_ID)), "{url}");
        let tab = b.client.new_window(true).await?;
        b.client.switch_to_window(tab.handle).await?;
        let size = if part.starts_with("pin") { (780, 900) } else { (480, 900) };
        b.client.set_window_size(size.0, size.1).await?;
        within(&format!("open {url}"), 20, async { Ok(b.client.goto(&url).await?) }).await?;
        Ok(url)
    }

    /// Closes every tab but the page's and switches back to the page.
    pub async fn back_to_page(&self) -> Result<()> {
        let c = &self.browser.client;
        for h in c.windows().await? {
            if h != self.page {
                c.switch_to_window(h).await?;
                let _ = c.close_window().await;
            }
        }
        c.switch_to_window(self.page.clone()).await?;
        c.set_window_size(1280, 900).await?;
        Ok(())
    }

    /// Pairs the page through the Settings screen: 「ペアリング開始」, the
    /// code appears on the page and in the extension's pairing window, staff
    /// approve or deny there. Returns the code. `shot`: screenshot names.
    pub async fn pair(&self, approve: bool, shot: Option<&str>) -> Result<String> {
        self.go("settings").await?;
        self.click("#pair-start").await?;
        let code = self.text("#pair-code").await?;
        let b = &self.browser;
        if let Some(name) = shot {
            b.screenshot(&format!("{name}-page")).await?;
        }
        self.open_extension_window("pair.html#").await?;
        let shown = self.text("#code").await?;
        ensure!(shown == code, "the pairing window shows {shown:?}, the page {code:?}");
        ensure!(self.text("#origin").await? == self.origin, "the pairing window shows the browser's origin");
        if let Some(name) = shot {
            b.screenshot(&format!("{name}-window")).await?;
        }
        self.click(if approve { "#approve" } else { "#deny" }).await?;
        until("the pairing window confirms", 15, || async {
            let class = b.client.find(Locator::Css("#status")).await?.attr("class").await?.unwrap_or_default();
            Ok((class.contains("ok") || class.contains("bad") || class.contains("warn")).then_some(()))
        })
        .await?;
        self.back_to_page().await?;
        Ok(code)
    }

    /// Starts a card check on the Card screen (PIN or visual mode).
    pub async fn start_card_check(&self, visual: bool) -> Result<()> {
        self.go("card").await?;
        self.click(if visual { "#mode-visual" } else { "#mode-pin" }).await?;
        self.click("#card-start").await
    }

    /// Types `pin` on the PIN window's keypad (the tab must show pin.html) and presses 確定.
    pub async fn type_pin(&self, pin: &str) -> Result<()> {
        for d in pin.chars() {
            self.click(&format!("#keypad button[data-d='{d}']")).await?;
        }
        let ok = self.browser.wait_for("#ok").await?;
        until("the PIN window's OK is enabled", 10, || async { Ok(ok.is_enabled().await?.then_some(())) }).await?;
        ok.click().await?;
        Ok(())
    }

    /// The PIN window's status line once it answered (after 確定).
    pub async fn pin_status(&self) -> Result<(String, String)> {
        let b = &self.browser;
        until("the PIN window answers", 30, || async {
            let s = b.client.find(Locator::Css("#status")).await?;
            let class = s.attr("class").await?.unwrap_or_default();
            let text = s.text().await?;
            Ok(((class.contains("ok") || class.contains("bad")) && !text.trim().is_empty()).then_some((class, text)))
        })
        .await
    }

    /// The result banner's outcome (`data-outcome`) and text, once shown.
    pub async fn result(&self, secs: u64) -> Result<(String, String)> {
        let b = &self.browser;
        b.client.switch_to_window(self.page.clone()).await?;
        until("the result banner", secs, || async {
            let Ok(banner) = b.client.find(Locator::Css("#result-banner")).await else { return Ok(None) };
            let outcome = banner.attr("data-outcome").await?.unwrap_or_default();
            Ok(Some((outcome, banner.text().await?)))
        })
        .await
    }
}

/// The extension, and no throttling of the page while an extension window
/// is in front: the real PIN and pairing windows are popups next to the
/// page, but here they are driven as tabs, which would make the page a
/// background tab (timers slowed to once a second).
fn stack_flags(ext: &Path) -> Vec<String> {
    let mut flags = parts::extension_flags(ext);
    flags.extend(
        ["--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"]
            .map(String::from),
    );
    flags
}

/// Waits until PC/SC reports the vpcd reader with (or without) a card.
async fn wait_reader(present: bool) -> Result<()> {
    tokio::task::spawn_blocking(move || {
        let reader = VPCD_READER.to_str()?;
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < Duration::from_secs(15) {
            match onshi_helper::card::transport::Pcsc::establish().map_err(|e| anyhow!("{e:?}")).and_then(|p| p.readers().map_err(|e| anyhow!("{e:?}"))) {
                Ok(rs) if rs.iter().any(|r| r.name == reader && r.card_present == present) => return Ok(()),
                Ok(rs) => last = format!("{:?}", rs.iter().map(|r| (&r.name, r.card_present)).collect::<Vec<_>>()),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("the reader {reader:?} did not show card_present={present} within 15 s ({last})")
    })
    .await?
}
