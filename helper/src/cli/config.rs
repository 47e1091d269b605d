//! `config`: checks the TOML config and the files it names, or prints where
//! the config and the database live by default.

use std::path::PathBuf;
use std::process::ExitCode;

use onshi_core::text::{Bilingual, Explain};
use onshi_helper::config::Config;
use onshi_helper::paths::{self, Env, Os};

use super::args::ConfigCommand;
use super::output::{problem, say, Fail};

pub fn run(c: ConfigCommand, config: Option<PathBuf>, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    match c {
        ConfigCommand::Check => check(config, env, os),
        ConfigCommand::Paths => {
            println!("config: {}", paths::config_file(env, os)?.display());
            println!("store:  {}", paths::data_file(env, os)?.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(config: Option<PathBuf>, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let path = match config {
        Some(p) => p,
        None => paths::config_file(env, os)?,
    };
    let cfg = Config::load(&path)?;
    let problems = cfg.check();
    for p in &problems {
        problem(&p.explain());
    }
    say(&cfg.origins_summary());
    if problems.is_empty() {
        say(&Bilingual::new(
            format!("設定 {} に問題はありません。", path.display()),
            format!("The configuration {} has no problems.", path.display()),
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}
