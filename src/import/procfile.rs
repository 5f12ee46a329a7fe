//! A foreman / honcho `Procfile`: `name: command` per line, run by a shell,
//! with the `.env` beside it; when one process ends, foreman stops them
//! all: each is a main process (the pod ends at the first).

use super::pod::Translated;

pub fn translate(text: &str, file: &str) -> Result<Translated, String> {
    let q = crate::json::quoted;
    let dir = std::path::Path::new(file)
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let env = dir.join(".env");
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
        if env.exists() {
            out += &format!("env_file = {}\n", q(&env.to_string_lossy()));
        }
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
        let t = translate(
            "web: bundle exec puma -p $PORT\n# c\nworker:  rake jobs:work\n",
            "/nonexistent/Procfile",
        )
        .unwrap();
        assert!(t.toml.contains("[process.\"web\"]\ncommand = [\"sh\", \"-c\", \"bundle exec puma -p $$PORT\"]\nmain = true\n"), "{}", t.toml);
        assert!(t.toml.contains("\"rake jobs:work\""));
        assert!(
            translate("web bundle\n", "P")
                .unwrap_err()
                .contains("P:1: expected")
        );
        assert!(translate("a: x\na: y\n", "P").is_err());
    }
}
