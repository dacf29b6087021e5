//! The `faultline` binary: a thin shell around `faultline::cli`.

fn main() {
    // Rust ignores SIGPIPE, which turns `faultline ... | head` into a panic on the next print;
    // a command-line tool should end quietly instead, as `cat` does.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(faultline::cli::main_with_args(std::env::args_os()));
}
