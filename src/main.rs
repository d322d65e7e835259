//! The `clave` binary; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    clave::cli::main()
}
