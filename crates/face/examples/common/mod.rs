//! What the face examples share: the labelled face set, one folder per identity.

use std::path::{Path, PathBuf};

/// One identity's pictures, in file-name order.
pub struct Identity {
    pub label: String,
    pub pictures: Vec<PathBuf>,
}

/// The identities in `set`: its folders (not hidden ones) with at least one picture, in name
/// order.
pub fn identities(set: &Path) -> Result<Vec<Identity>, String> {
    let cannot = |e: std::io::Error| {
        format!(
            "cannot read the face set in {} ({e}); run scripts/fetch-face-set",
            set.display()
        )
    };
    let mut identities = Vec::new();
    for entry in std::fs::read_dir(set).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let label = entry.file_name().to_string_lossy().into_owned();
        if label.starts_with('.') || !entry.file_type().map_err(cannot)?.is_dir() {
            continue;
        }
        let mut pictures = Vec::new();
        for file in std::fs::read_dir(entry.path()).map_err(cannot)? {
            let path = file.map_err(cannot)?.path();
            let is_picture = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .is_some_and(|e| matches!(e.as_str(), "jpg" | "jpeg" | "png"));
            if is_picture && path.is_file() {
                pictures.push(path);
            }
        }
        if !pictures.is_empty() {
            pictures.sort();
            identities.push(Identity { label, pictures });
        }
    }
    identities.sort_by(|a, b| a.label.cmp(&b.label));
    if identities.len() < 2 {
        return Err(format!(
            "{} holds {} folder(s) of pictures: at least two identities are needed; run scripts/fetch-face-set",
            set.display(),
            identities.len()
        ));
    }
    Ok(identities)
}
