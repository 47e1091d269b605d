//! `audit`: the append-only, hash-chained audit log: the newest entries, and
//! a walk of the chain that names the first break. It never writes to the log.

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
                println!("#{} {} {} {} {} {}", e.seq, e.at, e.actor, e.kind, e.outcome, e.detail);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let r = store.verify_audit()?;
            match &r.first_break {
                None => {
                    say(&Bilingual::new(
                        format!("監査ログは改ざんされていません（{} 件、最新ハッシュ {}）。", r.entries, r.head),
                        format!("The audit log is intact ({} entries, head hash {}).", r.entries, r.head),
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    problem(&b.explain());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
