//! `pairings`: the web pages (origins) allowed to use this helper: list them,
//! revoke one. A revocation is audited; a pairing is only made from a page.

use std::process::ExitCode;

use onshi_core::text::Bilingual;
use onshi_helper::store::{Actor, AuditDetail, Origin, Outcome, PairingAction};

use super::args::PairingsCommand;
use super::context::Context;
use super::output::{problem, say, Fail};

pub fn run(ctx: &Context, c: PairingsCommand) -> Result<ExitCode, Fail> {
    match c {
        PairingsCommand::List => {
            let store = ctx.open_existing()?;
            let all = store.pairings()?;
            if all.is_empty() {
                say(&Bilingual::new("ペアリングはありません。", "There are no pairings."));
            }
            for p in all {
                let state = match (p.approved, &p.revoked_at) {
                    (_, Some(at)) => format!("revoked {at}"),
                    (true, None) => "approved".to_owned(),
                    (false, None) => "pending".to_owned(),
                };
                println!("{} {} {} {} created {} {}", p.id.0, p.origin, p.browser, p.extension_id, p.created_at, state);
            }
            Ok(ExitCode::SUCCESS)
        }
        PairingsCommand::Revoke { origin } => {
            let origin = Origin::new(&origin)?;
            let mut store = ctx.open_existing()?;
            let now = ctx.now()?;
            let n = store.revoke_pairings(&origin, &now)?;
            if n == 0 {
                problem(&Bilingual::new(
                    format!("{origin} の有効なペアリングはありません。`onshi-helper pairings list` で確認してください。"),
                    format!("{origin} has no live pairing; see `onshi-helper pairings list`."),
                ));
                return Ok(ExitCode::FAILURE);
            }
            let detail = AuditDetail::Pairing { action: PairingAction::Revoke, origin: origin.clone() };
            store.append_audit(&now, &Actor::Cli, Outcome::Ok, &detail)?;
            say(&Bilingual::new(
                format!("{origin} のペアリングを解除しました（{n} 件）。"),
                format!("Revoked {n} pairing(s) of {origin}."),
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}
