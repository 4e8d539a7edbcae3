//! Prints the serialized size of the generated large bundle and the time to load it.
fn main() {
    let b = authz_engine::Bundle::build(authz_benches::large_bundle_sources(1000, 20), None).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let bytes = b.to_bytes();
    let t = std::time::Instant::now();
    let ok = authz_engine::Bundle::from_bytes(&bytes).is_ok();
    let load = t.elapsed();
    let t = std::time::Instant::now();
    let mut h = 0u64;
    for _ in 0..10 {
        h ^= u64::from(sha_first_byte(&bytes));
    }
    println!("{} bytes, load {load:?} ({ok}); sha256 of it: {:?} ({h})", bytes.len(), t.elapsed() / 10);
}

fn sha_first_byte(b: &[u8]) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(b).first().copied().unwrap_or(0)
}
