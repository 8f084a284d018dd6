//! The integration-test binary: one binary, shared helpers in `util`, one module per area.

mod answering;
mod cli;
mod corpus_parsing;
mod discord_bot;
mod discord_faults;
mod http;
mod index_lifecycle;
mod quality;
mod records;
mod reload;
mod robustness;
mod semantic;
mod sim;
mod startup;
mod util;
