//! Front-ends: what users arrive with, translated into podinit's TOML and
//! run by the same engine (`podinit -c pod.yaml`), or printed
//! (`podinit import FILE`). They translate only: every meaning they keep is
//! a TOML key.

pub mod pod;
pub mod process_compose;
pub mod procfile;
pub mod supervisord;
mod yaml;

/// What a config file is, by its name and text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Toml,
    /// A Kubernetes manifest (`.yaml`, `.yml`, `.json`, or `kind: Pod`...).
    Manifest,
    /// A foreman / honcho `Procfile`.
    Procfile,
    /// A `supervisord.conf` (`[program:x]` sections).
    Supervisord,
    /// A `process-compose.yaml` (a top-level `processes:`).
    ProcessCompose,
}

pub fn kind_of(file: &str, text: &str) -> Kind {
    let base = file.rsplit('/').next().unwrap_or(file);
    if base == "Procfile" || base.starts_with("Procfile.") {
        Kind::Procfile
    } else if [".conf", ".ini"].iter().any(|e| base.ends_with(e))
        && text
            .lines()
            .any(|l| l.trim_start().starts_with("[program:"))
    {
        Kind::Supervisord
    } else if [".yaml", ".yml"].iter().any(|e| base.ends_with(e))
        && process_compose::is_compose(text)
    {
        Kind::ProcessCompose
    } else if [".yaml", ".yml", ".json"].iter().any(|e| base.ends_with(e))
        || pod::is_pod_document(text)
    {
        Kind::Manifest
    } else {
        Kind::Toml
    }
}

/// The TOML of a file that is not TOML (None: it is), and the field report.
pub fn to_toml(
    file: &str,
    text: &str,
    pick: Option<&str>,
) -> Result<Option<pod::Translated>, String> {
    let kube_dir = std::env::var("PODINIT_KUBE_DIR").unwrap_or_else(|_| pod::KUBE_DIR.to_string());
    let named = std::env::var("PODINIT_PROCFILE").is_ok_and(|p| p == file);
    match if named {
        Kind::Procfile
    } else {
        kind_of(file, text)
    } {
        Kind::Toml => Ok(None),
        Kind::Manifest => pod::translate(text, file, pick, &kube_dir).map(Some),
        Kind::Procfile => procfile::translate(text, file).map(Some),
        Kind::Supervisord => supervisord::translate(text, file).map(Some),
        Kind::ProcessCompose => process_compose::translate(text, file).map(Some),
    }
}
