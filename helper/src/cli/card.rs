//! `card`: the My Number card on PC/SC, for IT staff: readers, PIN tries
//! left, the user-authentication certificate. It never asks for the PIN.

use std::process::ExitCode;

use onshi_core::text::{Bilingual, Explain};

use super::args::CardCommand;
use super::output::Fail;

pub fn run(c: CardCommand) -> Result<ExitCode, Fail> {
    use onshi_helper::card::flows::{self, CardError};
    use onshi_helper::card::jpki::PinTries;
    use onshi_helper::card::transport::Pcsc;
    let pcsc = Pcsc::establish().map_err(CardError::from)?;
    match c {
        CardCommand::Status => {
            let readers = pcsc.readers().map_err(CardError::from)?;
            if readers.is_empty() {
                return Err(CardError::NoReader.into());
            }
            for r in readers {
                if !r.card_present {
                    println!("{}: カードなし / no card", r.name);
                    continue;
                }
                let status = pcsc.connect(Some(&r.name)).map_err(CardError::from).and_then(|mut card| card.flow(|t| flows::pin_status(t)));
                match status {
                    Ok(PinTries::Left(n)) => println!("{}: マイナンバーカード、暗証番号の残り{n}回 / My Number card, {n} PIN tries left", r.name),
                    Ok(PinTries::Locked) => println!("{}: マイナンバーカード、暗証番号ロック中 / My Number card, PIN locked", r.name),
                    Err(e) => {
                        let b = e.explain();
                        println!("{}: {} / {}", r.name, b.ja, b.en);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CardCommand::ReadCert { reader } => {
            let mut card = pcsc.connect(reader.as_deref()).map_err(CardError::from)?;
            let der = card.flow(|t| flows::read_certificate(t))?;
            let (_, cert) = x509_parser::parse_x509_certificate(&der)
                .map_err(|_| Fail(Bilingual::new("カードの証明書を読み取れませんでした。", "The certificate on the card could not be parsed.")))?;
            println!("reader: {}", card.reader());
            println!("subject: {}", cert.subject());
            println!("issuer: {}", cert.issuer());
            println!("not_before: {}", cert.validity().not_before);
            println!("not_after: {}", cert.validity().not_after);
            Ok(ExitCode::SUCCESS)
        }
    }
}
