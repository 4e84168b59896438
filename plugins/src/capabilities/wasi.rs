//! WASI, present but empty: no preopened directories, environment, arguments or sockets.
//! Clocks and randomness work (Rust's standard library needs them). What a pack prints to
//! stdout or stderr, a panic message among it, is captured and written to the server's log.

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// How much of stdout and stderr is kept per call.
const CAPTURE_BYTES: usize = 64 << 10;

pub(crate) struct Output {
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Output {
    pub fn new() -> Output {
        Output {
            stdout: MemoryOutputPipe::new(CAPTURE_BYTES),
            stderr: MemoryOutputPipe::new(CAPTURE_BYTES),
        }
    }

    /// What was printed, per stream, if anything.
    pub fn take(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (name, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            if !bytes.is_empty() {
                out.push((name, String::from_utf8_lossy(&bytes).trim_end().to_string()));
            }
        }
        out
    }

    /// The stderr text (where a panic's message goes).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim_end()
            .to_string()
    }
}

pub(crate) fn empty_context(output: &Output) -> WasiCtx {
    // The builder starts with nothing: no preopens, no environment, no arguments, stdin
    // empty, and every socket address refused.
    WasiCtxBuilder::new()
        .stdout(output.stdout.clone())
        .stderr(output.stderr.clone())
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false)
        .build()
}
