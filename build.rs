//! Build script: generates the C header with cbindgen (into OUT_DIR; into include/ when
//! FACEKIT_UPDATE_HEADER=1 or when it is missing), sets the shared library's SONAME, and — with the `bundled`
//! feature — packs the default models into OUT_DIR for `Engine::bundled()`.

#[path = "src/pack/container.rs"]
#[allow(dead_code)]
mod container;

use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/detect.rs");
    println!("cargo:rerun-if-changed=src/quality.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=models/manifest.json");
    println!("cargo:rerun-if-env-changed=FACEKIT_UPDATE_HEADER");
    println!("cargo:rerun-if-env-changed=FACEKIT_BUNDLE_DIR");

    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    // SONAME carries the major version: ABI-breaking releases bump it.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfacekit.so.{major}");
    }

    header(&root, &out);
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        bundle(&root, &out);
    }
}

fn header(root: &Path, out: &Path) {
    let v = |k: &str| std::env::var(k).unwrap();
    let (ma, mi, pa) = (v("CARGO_PKG_VERSION_MAJOR"), v("CARGO_PKG_VERSION_MINOR"), v("CARGO_PKG_VERSION_PATCH"));
    let num = |s: &str| s.parse::<u32>().unwrap();
    let defines = format!(
        "\n#define FK_VERSION_MAJOR {ma}\n#define FK_VERSION_MINOR {mi}\n#define FK_VERSION_PATCH {pa}\n\
         /* MAJOR * 10000 + MINOR * 100 + PATCH; equals fk_version() of a matching library. */\n\
         #define FK_VERSION {}\n#define FK_VERSION_STRING \"{ma}.{mi}.{pa}\"\n",
        num(&ma) * 10000 + num(&mi) * 100 + num(&pa)
    );
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .with_after_include(defines)
        .generate()
        .expect("cbindgen generates the header");
    let generated = out.join("facekit.h");
    bindings.write_to_file(&generated);
    let committed = root.join("include/facekit.h");
    if std::env::var_os("FACEKIT_UPDATE_HEADER").is_some() || !committed.exists() {
        std::fs::create_dir_all(root.join("include")).unwrap();
        std::fs::copy(&generated, &committed).unwrap();
    }
}

fn bundle(root: &Path, out: &Path) {
    let dir = std::env::var_os("FACEKIT_BUNDLE_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("../shared/models"));
    let manifest = std::fs::read_to_string(root.join("models/manifest.json")).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = vec![("manifest.json".into(), manifest.clone().into_bytes())];
    // The default detector, embedder, quality and liveness models only: the bundled pack is for small devices.
    for f in ["yunet_s_dynamic.onnx", "mobilefacenet.onnx", "lightqnet_dm050.onnx", "minifasnetv2_80_scale2.7.onnx", "minifasnetv1se_80_scale4.0.onnx"] {
        let p = dir.join(f);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("bundled feature: cannot read {}: {e} (set FACEKIT_BUNDLE_DIR)", p.display()));
        files.push((f.to_string(), bytes));
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    std::fs::write(out.join("bundled.fkpack"), container::write(&entries)).unwrap();
}
