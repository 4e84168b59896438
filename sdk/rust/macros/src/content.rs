//! Reading a pack's `pack.yaml` id, `forms/` and `rules/`, and writing them out as a
//! `Content` expression.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub struct Content {
    pack_id: String,
    /// Every file embedded, so cargo rebuilds when one changes.
    files: Vec<PathBuf>,
    forms: Vec<(String, String)>,
    rules: Vec<(String, String, String)>,
}

/// A rule file: `rules/<name>.yaml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    #[serde(default)]
    description: String,
    logic: serde_json::Value,
}

fn yaml_error(file: &str, err: serde_yaml::Error) -> String {
    match err.location() {
        Some(at) => format!("{file} line {}: {err}", at.line()),
        None => format!("{file}: {err}"),
    }
}

fn read_text(root: &Path, relative: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(relative))
        .map_err(|e| format!("{relative}: cannot read it ({e}) in {}", root.display()))
}

/// The content files of `folder`, sorted by name: `.yaml`, `.yml` or `.json`, skipping
/// hidden files. Anything else is an error, so nothing is silently left out.
fn content_files(root: &Path, folder: &str) -> Result<Vec<String>, String> {
    let dir = root.join(folder);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries =
        std::fs::read_dir(&dir).map_err(|e| format!("{folder}/: cannot list it ({e})"))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{folder}/: cannot list it ({e})"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let relative = format!("{folder}/{name}");
        if !entry.path().is_file() {
            return Err(format!(
                "{relative}: {folder}/ holds files only; move it out or flatten it"
            ));
        }
        if !(name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")) {
            return Err(format!(
                "{relative}: {folder}/ holds .yaml, .yml or .json files; rename or move it"
            ));
        }
        names.push(relative);
    }
    names.sort();
    Ok(names)
}

pub fn read(root: &Path) -> Result<Content, String> {
    if !root.join("pack.yaml").is_file() {
        return Err(format!(
            "pack.yaml: not found in {}; export_pack! reads the pack's id from it (create one with `tessera-pack new`, or pass root = \"<folder>\")",
            root.display()
        ));
    }
    let manifest = read_text(root, "pack.yaml")?;
    let manifest: serde_yaml::Value =
        serde_yaml::from_str(&manifest).map_err(|e| yaml_error("pack.yaml", e))?;
    let pack_id = manifest
        .get("id")
        .and_then(serde_yaml::Value::as_str)
        .ok_or("pack.yaml: needs an `id` (the pack's name, such as hello-pack)")?
        .to_string();
    let mut files = vec![root.join("pack.yaml")];

    let mut forms = Vec::new();
    for relative in content_files(root, "forms")? {
        let text = read_text(root, &relative)?;
        let parsed: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| yaml_error(&relative, e))?;
        let id = parsed
            .get("id")
            .and_then(serde_yaml::Value::as_str)
            .ok_or_else(|| format!("{relative}: a form needs a top-level `id`"))?
            .to_string();
        if forms.iter().any(|(other, _)| *other == id) {
            return Err(format!(
                "{relative}: another form already has the id {id:?}"
            ));
        }
        files.push(root.join(&relative));
        forms.push((id, text));
    }

    let mut rules = Vec::new();
    for relative in content_files(root, "rules")? {
        let text = read_text(root, &relative)?;
        let rule: RuleFile = serde_yaml::from_str(&text).map_err(|e| yaml_error(&relative, e))?;
        if rules.iter().any(|(other, _, _)| *other == rule.id) {
            return Err(format!(
                "{relative}: another rule already has the id {:?}",
                rule.id
            ));
        }
        files.push(root.join(&relative));
        rules.push((rule.id, rule.description, rule.logic.to_string()));
    }

    Ok(Content {
        pack_id,
        files,
        forms,
        rules,
    })
}

impl Content {
    pub fn to_rust(&self) -> String {
        let mut code = String::from("{\n");
        for file in &self.files {
            code.push_str(&format!(
                "    const _: &[u8] = ::core::include_bytes!({:?});\n",
                file.display().to_string()
            ));
        }
        // `tessera-pack build` sets this to a fingerprint of the folders' listings: reading it
        // here makes cargo rebuild when a form or rule is added or removed, which it cannot
        // see from the files above.
        code.push_str(
            "    const _: ::core::option::Option<&str> = ::core::option_env!(\"TESSERA_PACK_CONTENT\");\n",
        );
        let forms: Vec<String> = self
            .forms
            .iter()
            .map(|(id, text)| format!("({id:?}, {text:?})"))
            .collect();
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|(id, description, logic)| format!("({id:?}, {description:?}, {logic:?})"))
            .collect();
        code.push_str(&format!(
            "    ::tessera_pack_sdk::__private::Content {{ pack_id: {:?}, forms: &[{}], rules: &[{}] }}\n}}",
            self.pack_id,
            forms.join(", "),
            rules.join(", ")
        ));
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/demo-pack")
    }

    #[test]
    fn reads_the_id_forms_and_rules_as_json() {
        let content = read(&demo()).unwrap();
        assert_eq!(content.pack_id, "demo-pack");
        assert_eq!(content.forms[0].0, "intake");
        assert_eq!(
            content.rules[0],
            (
                "adult".to_string(),
                "The patient is an adult".to_string(),
                r#"{">=":[{"var":"age"},18]}"#.to_string()
            )
        );
        let rust = content.to_rust();
        assert!(rust.contains("include_bytes!"), "{rust}");
        assert!(rust.contains("TESSERA_PACK_CONTENT"), "{rust}");
    }

    /// A pack folder with `files`; read, and the error it gives.
    fn error_of(files: &[(&str, &str)]) -> String {
        let dir = pack_with(files);
        read(dir.path()).err().expect("the pack has a problem")
    }

    fn pack_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pack.yaml"), "id: p\n").unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn problems_name_the_file_and_line() {
        let err = error_of(&[("rules/a.yaml", "id: a\ndescription: A\nlogik: {}\n")]);
        assert!(
            err.starts_with("rules/a.yaml line 3: unknown field `logik`"),
            "{err}"
        );
        let err = error_of(&[("forms/f.yaml", "title: No id\n")]);
        assert_eq!(err, "forms/f.yaml: a form needs a top-level `id`");
        let err = error_of(&[("forms/notes.txt", "x")]);
        assert!(
            err.starts_with("forms/notes.txt: forms/ holds .yaml"),
            "{err}"
        );
        let err = error_of(&[
            ("rules/a.yaml", "id: same\ndescription: A\nlogic: true\n"),
            ("rules/b.yaml", "id: same\ndescription: B\nlogic: false\n"),
        ]);
        assert!(err.contains("rules/b.yaml: another rule"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = read(empty.path()).err().unwrap();
        assert!(err.starts_with("pack.yaml: not found"), "{err}");
    }
}
