//! The `citebot` binary: parses arguments and hands over to the library.

fn main() -> std::process::ExitCode {
    citebot::cli::run(std::env::args_os())
}
