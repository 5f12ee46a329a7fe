//! A foreman / honcho `Procfile`: `name: command` per line, run by a shell,
//! with the `.env` beside it; when one process ends, foreman stops them
//! all: each is a main process (the pod ends at the first). Each gets
//! `PORT` as foreman gives it: the base (`PORT` of the `.env`, else of
//! podinit's environment, else 5000) plus 100 per process before it.

use super::pod::Translated;

/// foreman's base port when `PORT` is not set.
const BASE_PORT: u32 = 5000;

pub fn translate(text: &str, file: &str) -> Result<Translated, String> {
    let port = std::env::var("PORT").ok();
    translate_with(text, file, port.as_deref())
}

/// The `.env` beside the Procfile, checked now (a bad line starts
/// nothing), and the base port.
fn dot_env(env: &std::path::Path, port: Option<&str>) -> Result<(bool, u32), String> {
    let shown = env.display();
    let vars = match crate::sys::read_bounded(env, crate::sys::MAX_ENV_FILE) {
        Ok((bytes, _)) => crate::sys::parse_env_file(&String::from_utf8_lossy(&bytes))
            .map_err(|e| format!("{shown}: {e}"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{shown}: {e}")),
    };
    let found = env.exists();
    let port = vars
        .iter()
        .rev()
        .find(|(k, _)| k == "PORT")
        .map(|(_, v)| v.as_str())
        .or(port);
    let base = match port {
        None => BASE_PORT,
        Some(p) => p
            .trim()
            .parse()
            .map_err(|_| format!("PORT={p:?} (the base port) is not a number"))?,
    };
    Ok((found, base))
}

fn translate_with(text: &str, file: &str, port: Option<&str>) -> Result<Translated, String> {
    let q = crate::json::quoted;
    let dir = std::path::Path::new(file)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let env = dir.join(".env");
    let (has_env, base) = dot_env(&env, port)?;
    let root = std::env::current_dir()
        .map(|c| c.join(dir))
        .unwrap_or_else(|_| dir.to_path_buf());
    let mut out =
        format!("# podinit TOML for the Procfile {file}, as `podinit import` writes it.\n");
    let mut report = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, command)) = line.split_once(':') else {
            return Err(format!("{file}:{}: expected `name: command`", n + 1));
        };
        let name = name.trim();
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok || names.iter().any(|x| x == name) {
            return Err(format!(
                "{file}:{}: {name:?} is not a new process name (letters, digits, _ and -)",
                n + 1
            ));
        }
        names.push(name.to_string());
        out += &format!(
            "\n[process.{}]\ncommand = [\"sh\", \"-c\", {}]\nmain = true\n",
            q(name),
            q(&command.trim().replace('$', "$$"))
        );
        // As foreman and honcho: commands run in the Procfile's directory.
        out += &format!("working_dir = {}\n", q(&root.to_string_lossy()));
        if has_env {
            out += &format!("env_file = {}\n", q(&env.to_string_lossy()));
        }
        let port = base + 100 * (names.len() as u32 - 1);
        out += &format!("env = {{ PORT = \"{port}\" }}\n");
        report.push(format!(
            "line {}: {name}: honoured (run by sh -c, as foreman does)",
            n + 1
        ));
    }
    if names.is_empty() {
        return Err(format!("{file}: no `name: command` line"));
    }
    Ok(Translated { toml: out, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_main_per_line_run_by_a_shell() {
        let t = translate_with(
            "web: bundle exec puma -p $PORT\n# c\nworker:  rake jobs:work\n",
            "/nonexistent/Procfile",
            None,
        )
        .unwrap();
        assert!(t.toml.contains("[process.\"web\"]\ncommand = [\"sh\", \"-c\", \"bundle exec puma -p $$PORT\"]\nmain = true\nworking_dir = \"/nonexistent\"\nenv = { PORT = \"5000\" }\n"), "{}", t.toml);
        assert!(
            t.toml
                .contains("\"rake jobs:work\"]\nmain = true\nworking_dir = \"/nonexistent\"\nenv = { PORT = \"5100\" }")
        );
        let t = translate_with("a: x\nb: y\n", "/nonexistent/Procfile", Some("3000")).unwrap();
        assert!(t.toml.contains("PORT = \"3100\""), "{}", t.toml);
        assert!(
            translate("web bundle\n", "P")
                .unwrap_err()
                .contains("P:1: expected")
        );
        assert!(translate("a: x\na: y\n", "P").is_err());
    }
}
