//! What both wasmCloud runners (`host/`, 2.x; `host1/`, 1.x) share as processes a test harness
//! supervises: the run-or-report `main`, and stopping when stdin closes. Each is a crate of its
//! own (its own lock file and wasmtime), so this file is included by path, not depended on.

/// Builds a multi-threaded runtime, runs `run` on the parsed arguments, and on an error prints
/// it as `NAME: error` and exits 1.
pub fn main<A, F>(name: &str, args: impl FnOnce() -> anyhow::Result<A>, run: impl FnOnce(A) -> F)
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let result =
        args().and_then(|args| tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(args)));
    if let Err(e) = result {
        eprintln!("{name}: {e:#}");
        std::process::exit(1);
    }
}

/// Resolves when stdin reaches its end or fails (a supervising process went away).
pub async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    loop {
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Exits the process with status 1 if it is still running `limit` from now: called once it
/// was told to stop, so that a shutdown that hangs cannot leave the process running (one whose
/// tokio worker was kept busy by a task never ran the timer of an async timeout). A thread of
/// its own, so no stuck task can hold it up.
pub fn exit_if_still_running_after(name: &'static str, limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("{name}: did not stop within {} s of being told to; exiting", limit.as_secs());
        std::process::exit(1);
    });
}

/// `REF=TARGET`, split at the first `=` (file paths may hold one), for `--image`.
pub fn image_mapping(value: &str) -> anyhow::Result<(&str, &str)> {
    value.split_once('=').ok_or_else(|| anyhow::anyhow!("--image {value}: expected REF=FILE"))
}

/// `OWNER:NAME=VALUE` (`--env COMPONENT:NAME=VALUE`, `--config NAME:KEY=VALUE`); `form` names
/// it in the error.
pub fn owned_setting<'a>(flag: &str, form: &str, value: &'a str) -> anyhow::Result<(&'a str, &'a str, &'a str)> {
    let parsed = value.split_once(':').and_then(|(o, kv)| kv.split_once('=').map(|(k, v)| (o, k, v)));
    parsed.ok_or_else(|| anyhow::anyhow!("{flag} {value}: expected {form}"))
}
