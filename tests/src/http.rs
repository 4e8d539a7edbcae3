//! A minimal HTTP/1.1 client (keep-alive, `Content-Length` bodies) and a helper that runs the
//! real `authz serve` process on a loopback port. Enough for tests and the load generator,
//! and no client library to pull in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A response: status, headers (lower-cased names) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("status {} body is not JSON ({e}): {}", self.status, self.body))
    }
}

/// One keep-alive connection.
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    /// A client for `addr` (connects lazily, reconnects after errors).
    pub fn new(addr: SocketAddr) -> Self {
        Client { addr, conn: None }
    }

    /// Sends a request with extra headers; retries once on a fresh connection if a kept-alive
    /// one was closed.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, String> {
        let reused = self.conn.is_some();
        let mut result = self.exchange(method, path, headers, body);
        if result.is_err() {
            self.conn = None;
            if reused {
                result = self.exchange(method, path, headers, body);
                if result.is_err() {
                    self.conn = None;
                }
            }
        }
        result
    }

    /// `POST` a JSON body.
    pub fn post_json(&mut self, path: &str, body: &str) -> Result<Response, String> {
        self.send("POST", path, &[("content-type", "application/json")], body.as_bytes())
    }

    /// `GET`.
    pub fn get(&mut self, path: &str) -> Result<Response, String> {
        self.send("GET", path, &[], b"")
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, String> {
        let err = |e: std::io::Error| e.to_string();
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr).map_err(err)?;
            stream.set_nodelay(true).map_err(err)?;
            stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(err)?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut().ok_or("no connection")?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n", self.addr, body.len());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let stream = conn.get_mut();
        stream.write_all(head.as_bytes()).map_err(err)?;
        stream.write_all(body).map_err(err)?;
        let mut line = String::new();
        if conn.read_line(&mut line).map_err(err)? == 0 {
            return Err("connection closed".into());
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line `{}`", line.trim()))?;
        let mut headers = Vec::new();
        let mut length = 0usize;
        let mut chunked = false;
        let mut close = false;
        loop {
            line.clear();
            conn.read_line(&mut line).map_err(err)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| format!("bad header `{l}`"))?;
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            match k.as_str() {
                "content-length" => length = v.parse().map_err(|_| format!("bad content-length `{v}`"))?,
                "transfer-encoding" if v.eq_ignore_ascii_case("chunked") => chunked = true,
                "transfer-encoding" => return Err(format!("unsupported transfer-encoding `{v}`")),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
            headers.push((k, v));
        }
        let buf = if chunked {
            read_chunked(conn)?
        } else {
            let mut buf = vec![0; length];
            conn.read_exact(&mut buf).map_err(err)?;
            buf
        };
        if close {
            self.conn = None;
        }
        let body = String::from_utf8(buf).map_err(|_| "body is not UTF-8".to_string())?;
        Ok(Response { status, headers, body })
    }
}

/// The `authz` binary beside the running test executable (`target/<profile>/authz`).
pub fn authz_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("AUTHZ_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test> or target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(|d| d.parent()).ok_or("no target directory")?;
    let bin = profile_dir.join(format!("authz{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("`{}` not found: build it first (`cargo build -p authz`) or set AUTHZ_BIN", bin.display()))
    }
}

/// `authz bake --skip-tests --policies policies/example EXTRA... --out OUT` with this tree's
/// `authz` (`--http` for the `wasi:http` app, `--label L`, ...).
pub fn bake_example(out: &std::path::Path, extra: &[&str]) -> Result<(), String> {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/example");
    let status = Command::new(authz_binary()?)
        .args(["bake", "--skip-tests", "--policies"])
        .arg(&example)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("running authz bake: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("authz bake {extra:?} failed"))
    }
}

/// What follows `marker` in a log line, up to the next space or `/` (text log lines carry the
/// address as a field after the message too).
fn address_after<'l>(line: &'l str, marker: &str) -> Option<&'l str> {
    let rest = line.split(marker).nth(1)?;
    rest.split(|c: char| c.is_whitespace() || c == '/').next()
}

/// A running `authz serve` process, killed on drop.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stdout (the audit log when `--audit-log stdout`), unread.
    pub stdout: Option<std::process::ChildStdout>,
    /// Lines it printed on stderr are collected here.
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Files the server reads for as long as it runs, removed after it stops.
    files: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `authz serve --addr 127.0.0.1:0 ARGS...` and waits until it listens; with a
    /// compile cache of its own (`--cache-dir`, beside the harness's: each keeps
    /// [`authz_wasmtime::CACHE_KEEP`] artifacts) unless `args` name one, so a component compiled
    /// once, in this run or an earlier one, is not compiled again.
    pub fn start(args: &[&str]) -> Result<Server, String> {
        let mut command = Command::new(authz_binary()?);
        command
            .arg("serve")
            // The pipe closes when this process ends, however it ends (the servers shared by a
            // test binary live in statics, which are never dropped): the server then exits.
            .args(["--addr", "127.0.0.1:0", "--exit-on-stdin-close"])
            .args(args);
        if !args.contains(&"--cache-dir") {
            command.arg("--cache-dir").arg(crate::runtime::wasm_dir().join("compiled-servers"));
        }
        Server::spawn(command, "listening on http://")
    }

    /// Starts `command` (a server that prints `MARKER<address>` on stderr once it listens,
    /// `MARKER` ending in `http://`) and waits until it listens.
    pub fn spawn(mut command: Command, marker: &str) -> Result<Server, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {:?}: {e}", command.get_program()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                return Err(format!("{:?} exited before listening:\n{}", command.get_program(), seen.join("\n")));
            };
            if let Some(a) = address_after(&line, marker) {
                break a.parse::<SocketAddr>().map_err(|e| format!("bad address in `{line}`: {e}"))?;
            }
            seen.push(line);
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("{:?} did not start in time", command.get_program()));
            }
        };
        let collected = std::sync::Arc::new(std::sync::Mutex::new(seen));
        let sink = collected.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push(line);
                }
            }
        });
        let stdout = child.stdout.take();
        Ok(Server { child, addr, stdout, stderr: collected, files: None })
    }

    /// [`Server::spawn`] for a server with no way to stop when its stdin closes (`wasmtime
    /// serve`, workerd): run under `sh`, which stops it when the pipe closes, however this
    /// process ends, and then removes `files` (the directory of files the server reads), if
    /// given: a server shared by a test binary lives in a static, never dropped. Its output goes
    /// to stderr, which is collected. `announce`: for a server that prints no `MARKER<address>`
    /// line of its own (workerd), the line the wrapper prints for it at once (then wait with
    /// [`Server::await_ready`]).
    pub fn spawn_until_stdin_closes(
        program: &std::path::Path,
        args: &[&str],
        marker: &str,
        announce: Option<&str>,
        files: Option<tempfile::TempDir>,
    ) -> Result<Server, String> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(concat!(
                r#"[ -z "$ANNOUNCE" ] || echo "$ANNOUNCE" >&2; "$@" </dev/null >&2 & p=$!; cat >/dev/null; "#,
                r#"kill "$p" 2>/dev/null; wait "$p"; [ -z "$FILES" ] || rm -rf "$FILES""#
            ))
            .arg("sh")
            .arg(program)
            .args(args)
            .env("ANNOUNCE", announce.unwrap_or_default())
            .env("FILES", files.as_ref().map(|d| d.path().as_os_str()).unwrap_or_default());
        let mut server = Server::spawn(command, marker)?;
        server.files = files;
        Ok(server)
    }

    /// Waits until `GET path` answers 200 (for servers whose readiness no line announces).
    pub fn await_ready(self, path: &str) -> Result<Server, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut client = self.client();
        loop {
            match client.get(path) {
                Ok(r) if r.status == 200 => return Ok(self),
                answer if Instant::now() > deadline => {
                    let log = self.stderr.lock().map(|l| l.join("\n")).unwrap_or_default();
                    return Err(format!("not ready at {path} in 60 s ({answer:?}):\n{log}"));
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The address it announced after `marker` on stderr (`listening on grpc://` for
    /// `authz serve --grpc-addr`), when it did.
    pub fn announced(&self, marker: &str) -> Option<SocketAddr> {
        let lines = self.stderr.lock().ok()?;
        lines.iter().find_map(|l| address_after(l, marker)?.parse().ok())
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new keep-alive client.
    pub fn client(&self) -> Client {
        Client::new(self.addr)
    }

    /// Sends a signal (`HUP`, ...) with `kill`.
    pub fn signal(&self, name: &str) -> Result<(), String> {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -{name} failed"))
        }
    }
}

impl Drop for Server {
    /// Closes the server's stdin, which stops it (`--exit-on-stdin-close`, or the wrapper of
    /// [`Server::spawn_until_stdin_closes`]), then kills it if it is still running 10 s later.
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `Transfer-Encoding: chunked` body (Cerbos sends some answers so): chunks up to the empty
/// one, then the (ignored) trailers.
fn read_chunked(conn: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let err = |e: std::io::Error| e.to_string();
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).map_err(err)?;
        let size = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size.trim(), 16).map_err(|_| format!("bad chunk size `{}`", line.trim()))?;
        if size == 0 {
            break;
        }
        let mut chunk = vec![0; size];
        conn.read_exact(&mut chunk).map_err(err)?;
        body.extend_from_slice(&chunk);
        line.clear();
        conn.read_line(&mut line).map_err(err)?;
    }
    loop {
        line.clear();
        if conn.read_line(&mut line).map_err(err)? == 0 || line.trim_end().is_empty() {
            return Ok(body);
        }
    }
}
