//! One integration-test binary for all cross-process tests (style.md).

mod batch_page;
mod card_pcsc;
mod card_troubles;
mod csp;
mod desk;
mod desks;
mod desks_batch;
mod desks_outage;
mod e2e_bench;
mod e2e_card;
mod e2e_cert;
mod e2e_desk;
mod e2e_disaster;
mod e2e_usage;
mod extension_helper;
mod firefox;
mod flood;
mod helper_card;
mod package_deb;
mod package_msi;
mod web_slice;
