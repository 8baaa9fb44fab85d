//! Precompression of the static bundle: `<file>.br` (brotli at its best quality) and
//! `<file>.gz` (gzip at its best level) beside every `.wasm`, `.js` and `.css` file of the
//! site's `pkg/` directory.
//!
//! The pages' file handler (`leptos_axum`'s `ServeDir`) serves such a file in place of the
//! original when the browser accepts its encoding, and the response compression layer leaves
//! an already-encoded response alone. Compressing a 1.5 MB WASM bundle at brotli's best
//! quality takes seconds, far too slow per request, so it is done once after a build
//! (`schedulingkit-webhooks precompress`, run by `make run` and `make e2e`). Without these
//! files the bundle is still compressed per request, at a faster and weaker setting.
//!
//! The bundle's names carry a content hash, so a precompressed file never goes stale under
//! its name; each is written to a temporary name and renamed, so a server reading the
//! directory never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The extensions worth compressing (text and WASM; images are compressed already).
const EXTENSIONS: [&str; 3] = ["wasm", "js", "css"];

/// What one file became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compressed {
    pub file: PathBuf,
    pub original: u64,
    pub brotli: u64,
    pub gzip: u64,
}

/// Precompresses every bundle file directly in `dir`. Fails on the first file that cannot be
/// read or written (leaving no temporary file behind), naming it.
pub fn precompress_dir(dir: &Path) -> Result<Vec<Compressed>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .and_then(|ext| ext.to_str())
                    .is_some_and(|ext| EXTENSIONS.contains(&ext))
        })
        .collect();
    files.sort();
    files.iter().map(|file| precompress_file(file)).collect()
}

fn precompress_file(file: &Path) -> Result<Compressed, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let brotli = brotli_best(&bytes);
    let gzip = gzip_best(&bytes).map_err(|e| format!("cannot gzip {}: {e}", file.display()))?;
    write_beside(file, "br", &brotli)?;
    write_beside(file, "gz", &gzip)?;
    Ok(Compressed {
        file: file.to_path_buf(),
        original: bytes.len() as u64,
        brotli: brotli.len() as u64,
        gzip: gzip.len() as u64,
    })
}

fn brotli_best(bytes: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(bytes.len() / 3);
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)
        .expect("compressing from memory into memory cannot fail");
    out
}

fn gzip_best(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Writes `<file>.<ext>` through a temporary file and a rename.
fn write_beside(file: &Path, ext: &str, bytes: &[u8]) -> Result<(), String> {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    let target = PathBuf::from(name);
    let mut tmp = target.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &target));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", target.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn every_bundle_file_gets_a_smaller_brotli_and_gzip_twin_that_decodes_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let js = "export function hydrate() { console.log('hydrated'); }\n".repeat(500);
        let css = "body { margin: 0; color: #123; }\n".repeat(300);
        std::fs::write(dir.path().join("site.abc.js"), &js).unwrap();
        std::fs::write(dir.path().join("site.abc.css"), &css).unwrap();
        std::fs::write(dir.path().join("logo.png"), [0x89, b'P', b'N', b'G']).unwrap();

        let done = precompress_dir(dir.path()).unwrap();

        assert_eq!(done.len(), 2, "{done:?}");
        for (name, text) in [("site.abc.js", &js), ("site.abc.css", &css)] {
            let entry = done.iter().find(|c| c.file.ends_with(name)).unwrap();
            assert_eq!(entry.original, text.len() as u64);
            assert!(entry.brotli < entry.original / 10, "{entry:?}");
            assert!(entry.gzip < entry.original / 10, "{entry:?}");

            let br = std::fs::read(dir.path().join(format!("{name}.br"))).unwrap();
            let mut decoded = Vec::new();
            brotli::BrotliDecompress(&mut &br[..], &mut decoded).unwrap();
            assert_eq!(decoded, text.as_bytes());

            let gz = std::fs::read(dir.path().join(format!("{name}.gz"))).unwrap();
            let mut decoded = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut decoded)
                .unwrap();
            assert_eq!(&decoded, text);
        }
        assert!(!dir.path().join("logo.png.br").exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let err = precompress_dir(Path::new("/nonexistent/skw-pkg")).unwrap_err();
        assert!(err.contains("cannot read /nonexistent/skw-pkg"), "{err}");
    }
}
