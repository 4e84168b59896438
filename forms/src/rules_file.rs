//! A pack's rule files (`rules/*.yaml` or `rules/*.json`): an id, a description and a JSON
//! Logic rule, checked the same way as the logic inside forms.

use crate::issue::FormIssue;
use crate::logic::Rule;
use crate::yaml::{self, NodeKind};

/// A checked rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The rule's id.
    pub id: String,
    /// What the rule is for.
    pub description: String,
    /// The compiled `logic`.
    pub rule: Rule,
}

impl RuleFile {
    /// Reads and checks a rule file (YAML, or JSON, which is YAML too). Problems read like
    /// `rules/x.yaml line 4 (logic): invalid JSON Logic: unknown operator 'foo'`.
    pub fn check(file: &str, text: &str) -> Result<RuleFile, Vec<FormIssue>> {
        let issue = |line: usize, path: &str, message: String| FormIssue {
            file: file.to_string(),
            line: Some(line),
            path: path.to_string(),
            message,
        };
        let root = yaml::parse_document(text).map_err(|ps| {
            ps.into_iter()
                .map(|p| issue(p.line, "", p.message))
                .collect::<Vec<_>>()
        })?;
        let Some(entries) = root.as_map() else {
            return Err(vec![issue(
                root.line,
                "",
                "a rule file is a mapping with id, description and logic".into(),
            )]);
        };
        let mut issues = Vec::new();
        let (mut id, mut description, mut rule) = (None, String::new(), None);
        for (key, value) in entries {
            match (key.name.as_str(), &value.kind) {
                ("id", NodeKind::Str(s)) => id = Some(s.clone()),
                ("description", NodeKind::Str(s)) => description = s.clone(),
                ("id" | "description", _) => issues.push(issue(
                    value.line,
                    &key.name,
                    format!("expected text, found {}", value.type_name()),
                )),
                ("logic", _) => match Rule::compile(&value.to_json()) {
                    Ok(r) => rule = Some(r),
                    Err(e) => issues.push(issue(
                        value.line,
                        "logic",
                        format!("invalid JSON Logic: {e}"),
                    )),
                },
                (other, _) => issues.push(issue(
                    key.line,
                    other,
                    format!("unknown key '{other}'; a rule file has id, description and logic"),
                )),
            }
        }
        for (name, missing) in [
            ("id", id.is_none()),
            ("logic", !entries.iter().any(|(k, _)| k.name == "logic")),
        ] {
            if missing && !issues.iter().any(|i| i.path == name) {
                issues.push(issue(
                    root.line,
                    name,
                    format!("the rule file has no '{name}'"),
                ));
            }
        }
        match (id, rule) {
            (Some(id), Some(rule)) if issues.is_empty() => Ok(RuleFile {
                id,
                description,
                rule,
            }),
            _ => Err(issues),
        }
    }
}

impl crate::Form {
    /// Checks a pack rule file; see [`RuleFile::check`].
    pub fn check_rule_file(file: &str, text: &str) -> Result<RuleFile, Vec<FormIssue>> {
        RuleFile::check(file, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_yaml_and_json_rule_files() {
        let yaml = "id: anaemia\ndescription: Low haemoglobin\nlogic: {\"<\": [{var: hb}, 11]}\n";
        let rule = RuleFile::check("rules/anaemia.yaml", yaml).unwrap();
        assert_eq!(rule.id, "anaemia");
        assert_eq!(
            rule.rule.evaluate(&json!({"hb": 9.5})).unwrap(),
            json!(true)
        );
        let json_text = r#"{"id": "x", "description": "d", "logic": {"==": [1, 1]}}"#;
        assert!(RuleFile::check("rules/x.json", json_text).is_ok());
    }

    #[test]
    fn names_the_line_of_invalid_logic_and_unknown_keys() {
        let text = "id: x\ndescription: d\nlogic:\n  foo: [1]\nwhen: now\n";
        let issues = RuleFile::check("rules/x.yaml", text).unwrap_err();
        assert_eq!(
            issues[0].to_string(),
            "rules/x.yaml line 4 (logic): invalid JSON Logic: unknown operator 'foo'"
        );
        assert_eq!(issues[1].line, Some(5));
        assert!(issues[1].message.contains("unknown key 'when'"));
        let issues = RuleFile::check("rules/x.yaml", "description: d\n").unwrap_err();
        let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(
            messages,
            ["the rule file has no 'id'", "the rule file has no 'logic'"]
        );
    }
}
