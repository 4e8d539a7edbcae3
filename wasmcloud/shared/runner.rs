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
