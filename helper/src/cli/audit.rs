//! `audit`: the append-only, hash-chained audit log: the newest entries, and
//! a walk of every chain (one per desk on a shared store) that names each
//! chain's first break. It never writes to the log.

use std::process::ExitCode;

use onshi_core::text::{Bilingual, Explain};

use super::args::AuditCommand;
use super::context::Context;
use super::output::{problem, say, Fail};

pub fn run(ctx: &Context, c: AuditCommand) -> Result<ExitCode, Fail> {
    let store = ctx.open_existing()?;
    match c {
        AuditCommand::Show { last } => {
            for e in store.audit_tail(last)? {
                let desk = if e.desk.is_empty() { String::new() } else { format!("[{}] ", e.desk) };
                println!("{desk}#{} {} {} {} {} {}", e.seq, e.at, e.actor, e.kind, e.outcome, e.detail);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let r = store.verify_audit()?;
            if r.is_intact() {
                let desks = if r.chains.len() > 1 { format!("、{} 窓口", r.chains.len()) } else { String::new() };
                let desks_en = if r.chains.len() > 1 { format!(", {} desks", r.chains.len()) } else { String::new() };
                say(&Bilingual::new(
                    format!("監査ログは改ざんされていません（{} 件{desks}、最新ハッシュ {}）。", r.entries, r.head),
                    format!("The audit log is intact ({} entries{desks_en}, head hash {}).", r.entries, r.head),
                ));
                return Ok(ExitCode::SUCCESS);
            }
            // Every broken chain, each with its first break, named by desk.
            for (desk, b) in r.breaks() {
                let m = b.explain();
                if desk.is_empty() {
                    problem(&m);
                } else {
                    problem(&Bilingual::new(format!("窓口「{desk}」: {}", m.ja), format!("Desk {desk:?}: {}", m.en)));
                }
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
