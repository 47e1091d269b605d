//! Small helpers shared by the subcommands: paths, running commands, sizes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub type Result<T = ()> = std::result::Result<T, String>;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// The cargo that runs xtask (rustup's); the wasm build uses Debian's.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command with inherited output; an error names the command.
pub fn run(cmd: &mut Command) -> Result {
    eprintln!("$ {}", describe(cmd));
    let status = cmd.status().map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if status.success() { Ok(()) } else { Err(format!("`{}` failed ({status})", describe(cmd))) }
}

/// Runs a command, echoing its output live while keeping a copy, so the
/// caller can count the tests it reports.
pub fn run_capture(cmd: &mut Command) -> (bool, String, f64) {
    eprintln!("$ {}", describe(cmd));
    let start = Instant::now();
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn();
    let Ok(mut child) = child else {
        return (false, format!("cannot start `{}`", describe(cmd)), 0.0);
    };
    let mut threads = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for (pipe, is_err) in [
        (child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>), false),
        (child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>), true),
    ] {
        let Some(pipe) = pipe else { continue };
        let tx = tx.clone();
        threads.push(std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                if is_err {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
                let _ = tx.send(line);
            }
        }));
    }
    drop(tx);
    let output: Vec<String> = rx.iter().collect();
    for t in threads {
        let _ = t.join();
    }
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    let _ = std::io::stdout().flush();
    (ok, output.join("\n"), start.elapsed().as_secs_f64())
}

pub fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| format!("{} → {}: {e}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// (raw bytes, gzip -9 bytes) of one file.
pub fn sizes(path: &Path) -> Result<(u64, u64)> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&data).map_err(|e| e.to_string())?;
    let compressed = gz.finish().map_err(|e| e.to_string())?;
    Ok((data.len() as u64, compressed.len() as u64))
}

pub fn command_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false)
}

/// One line on disk room: free space where target/ lives and target/'s own
/// size, so a run that stops on "No space left on device" says how close it was.
pub fn disk_report() -> String {
    let target = root().join("target");
    let df = Command::new("df").args(["-Pk"]).arg(if target.exists() { target.clone() } else { root() }).output();
    let free = df.ok().and_then(|o| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let line = text.lines().nth(1)?.to_string();
        line.split_whitespace().nth(3)?.parse::<u64>().ok()
    });
    let du = Command::new("du").args(["-sk"]).arg(&target).output();
    let used = du.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().next()?.parse::<u64>().ok());
    let gib = |k: u64| format!("{:.1} GiB", k as f64 / 1024.0 / 1024.0);
    format!(
        "disk: {} free, target/ {}",
        free.map(gib).unwrap_or_else(|| "? (df failed)".into()),
        used.map(gib).unwrap_or_else(|| "absent".into())
    )
}
