//! The integration-test binary: one binary, shared helpers in `util`, one module per area.

mod answering;
mod cli;
mod corpus_parsing;
mod index_lifecycle;
mod quality;
mod robustness;
mod util;
