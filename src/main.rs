//! The `citebot` binary: parses arguments and hands over to the library.

fn main() -> std::process::ExitCode {
    // SAFETY: first thing in the process; no other thread runs yet.
    unsafe { citebot::semantic::Encoder::kernels_on_one_thread() };
    citebot::cli::run(std::env::args_os())
}
