//! Embeds the generic component for `authz bake` when `scripts/build-component.sh` has built it.
//! Nothing is compiled here: the component is built by that script, never by a nested cargo.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(authz_generic_component)");
    println!("cargo::rerun-if-env-changed=AUTHZ_GENERIC_COMPONENT");
    let Ok(path) = std::env::var("AUTHZ_GENERIC_COMPONENT") else { return };
    println!("cargo::rerun-if-changed={path}");
    if std::path::Path::new(&path).is_file() {
        println!("cargo::rustc-cfg=authz_generic_component");
        println!("cargo::rustc-env=AUTHZ_GENERIC_COMPONENT_PATH={path}");
    } else {
        println!("cargo::warning=AUTHZ_GENERIC_COMPONENT={path} does not exist: `authz bake` will need --component");
    }
}
