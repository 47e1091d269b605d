//! `check`: one eligibility check from the command line, by the numbers on
//! an insurance card or with the My Number card on the reader, through the
//! service's own code paths (so it is audited like a page's). The PIN is
//! typed at the console with echo off and never read from a pipe.

use std::process::ExitCode;

use onshi_core::protocol::Pin;
use onshi_core::text::Bilingual;
use onshi_helper::platform::{self, SecretInputError};
use onshi_helper::service;

use super::args::CheckCommand;
use super::context::{cli_runtime, runtime, Context};
use super::output::{write_received, Fail};

pub fn run(ctx: &Context, c: CheckCommand) -> Result<ExitCode, Fail> {
    use onshi_core::protocol::{InsuranceConfirm, InsuredPerson, Response};
    let rt = runtime()?;
    let service = cli_runtime(ctx)?;
    match c {
        CheckCommand::Insurance { insurer, symbol, number, branch, birth, limit, out } => {
            let body = InsuranceConfirm {
                insured: InsuredPerson { insurer_number: insurer, symbol, number, branch, birth_date: birth },
                document: None,
                limit_certificate: limit,
                arbitrary_id: None,
                // The command line is IT's tool at the clinic.
                treatment: Default::default(),
            };
            let (institution, today) = service.with_dispatcher(|d| d.institution_and_today())?;
            let xml = service::eligibility::individual_request(&institution, &today, &body)?;
            match rt.block_on(service.insurance(None, &xml, body.document, body.treatment))? {
                Response::InsuranceConfirm(e) => print_eligibility(&e, out.as_deref())?,
                _ => return Err(Fail(Bilingual::new("予期しない応答です。", "Unexpected answer."))),
            }
            Ok(ExitCode::SUCCESS)
        }
        CheckCommand::Card { visual, reader, out } => {
            let e = rt.block_on(card_check(&service, visual, reader))?;
            print_eligibility(&e, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The result for a person on stdout (UTF-8 text), and with `out` the file
/// for receipt software, byte for byte as the system sent it.
fn print_eligibility(e: &onshi_core::protocol::Eligibility, out: Option<&std::path::Path>) -> Result<(), Fail> {
    let s = &e.summary;
    eprintln!(
        "資格有効性 / validity: {}  件数 / entries: {}",
        s.qualification_validity.as_deref().unwrap_or("-"),
        s.result_count
    );
    if let Some(c) = &e.certificate {
        eprintln!("{}\n{}", c.message.ja, c.message.en);
    }
    println!("{}", e.xml);
    out.map_or(Ok(()), |path| write_received(path, e.received.as_ref()))
}

/// Reads the PIN from the console with echo off, never from a pipe: a PIN
/// in a file or a shell history is a leaked PIN.
fn read_pin() -> Result<Pin, Fail> {
    let line = platform::read_secret_line("暗証番号（4桁） / PIN (4 digits): ").map_err(|e| {
        Fail(match e {
            SecretInputError::NotAConsole => Bilingual::new(
                "暗証番号は端末から直接入力してください（パイプやファイルからは受け付けません）。",
                "Type the PIN at a terminal; it is not accepted from a pipe or a file.",
            ),
            SecretInputError::CannotHideInput { tool } => Bilingual::new(
                format!("入力を隠せないため、暗証番号を受け付けません（{tool} が使えません）。"),
                format!("Cannot hide the input ({tool} is not available), so the PIN is not asked."),
            ),
            SecretInputError::Read(_) => Bilingual::new("暗証番号を読み取れませんでした。", "Could not read the PIN."),
        })
    })?;
    Ok(Pin::new(&line)?)
}

async fn card_check(
    service: &service::runtime::Runtime,
    visual: bool,
    reader: Option<String>,
) -> Result<onshi_core::protocol::Eligibility, Fail> {
    use onshi_helper::card::flows;
    use onshi_helper::card::jpki::PinTries;
    use onshi_helper::card::transport::Pcsc;
    let pcsc = Pcsc::establish().map_err(flows::CardError::from)?;
    let mut card = pcsc.connect(reader.as_deref()).map_err(flows::CardError::from)?;
    let mode = if visual { onshi_core::protocol::ConfirmMode::Visual } else { onshi_core::protocol::ConfirmMode::Pin };
    // The certificate is judged before any PIN (core cert_validity), as in the service.
    let today = service.cert_today();
    let (certificate_der, signature, nonce, standing) = if visual {
        let (cert, standing) = card.flow(move |t| flows::certificate_for_visual(t, today))?;
        let ch = service.backend_challenge().await?;
        (cert, Vec::new(), ch.nonce, standing)
    } else {
        let before = card.flow(move |t| flows::before_pin(t, today))?;
        let tries = match before.tries {
            PinTries::Locked => return Err(flows::CardError::PinLocked.into()),
            PinTries::Left(n) => n,
        };
        eprintln!("暗証番号の残り回数 / PIN tries left: {tries}");
        let pin = read_pin()?;
        let mut last = false;
        if tries == 1 {
            eprint!("残り1回です。間違えるとロックされます。続けますか? (yes) / Last try; a wrong PIN locks the card. Continue? (yes): ");
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            last = answer.trim() == "yes";
        }
        let ch = service.backend_challenge().await?;
        let nonce = ch.nonce.clone();
        let proof = card.flow(move |t| flows::confirm_with_pin(t, &pin, &nonce, last))?;
        (proof.cert_der, proof.signature, ch.nonce, before.certificate)
    };
    let proof = onshi_helper::backend::CardProof { certificate_der, signature, nonce, mode, consents: Default::default() };
    let e = service.card_confirm_cli(&proof).await?;
    Ok(onshi_core::protocol::Eligibility { certificate: standing.notice(), ..e })
}
