//! The forms a tenant can fill: those of the packs it enabled (registered by each pack's
//! component and shipped under `forms/` in its archive), with the texts of every enabled
//! pack's `locales/` laid over them, so a country pack translates a specialty pack's forms.

use std::collections::BTreeMap;
use std::sync::Arc;

use tessera_forms::{Form, FormIssue, Translations};
use tessera_plugins::LoadedPack;

use crate::fhir::outcome::FhirResult;
use crate::packs::Packs;

/// One form as a tenant sees it.
pub struct CatalogForm {
    /// The pack that provides it, and the version the tenant runs.
    pub pack: String,
    pub pack_version: String,
    pub form: Form,
}

/// A tenant's forms by id.
#[derive(Default)]
pub struct TenantForms {
    pub forms: BTreeMap<String, Arc<CatalogForm>>,
}

impl TenantForms {
    pub fn get(&self, id: &str) -> Option<&Arc<CatalogForm>> {
        self.forms.get(id)
    }
}

fn is_form_file(path: &str) -> bool {
    path.starts_with("forms/")
        && [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| path.ends_with(ext))
}

/// A pack version's forms, each parsed and checked: those its component registers (named
/// `register:<id>` in errors) and its `forms/*.yaml` files.
pub fn pack_forms(loaded: &LoadedPack) -> Result<Vec<Form>, Vec<FormIssue>> {
    let mut forms = Vec::new();
    let mut issues = Vec::new();
    let registered = loaded
        .registration
        .forms
        .iter()
        .map(|f| (format!("register:{}", f.id), f.definition.as_bytes()));
    // A pack built with the SDK both registers its `forms/` files and ships them: the same
    // text twice is one form.
    let shipped = loaded
        .content
        .iter()
        .filter(|(path, _)| is_form_file(path))
        .filter(|(_, bytes)| {
            !loaded
                .registration
                .forms
                .iter()
                .any(|f| f.definition.as_bytes() == bytes.as_slice())
        })
        .map(|(path, bytes)| (path.clone(), bytes.as_slice()));
    for (file, bytes) in registered.chain(shipped) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            issues.push(FormIssue {
                file,
                line: None,
                path: String::new(),
                message: "the file is not UTF-8 text".into(),
            });
            continue;
        };
        match Form::from_yaml(&file, text) {
            Ok(form) => forms.push(form),
            Err(found) => issues.extend(found),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for form in &forms {
        if !seen.insert(form.id().to_string()) {
            issues.push(FormIssue {
                file: String::new(),
                line: None,
                path: form.id().to_string(),
                message: format!("the pack has two forms with the id {:?}", form.id()),
            });
        }
    }
    if issues.is_empty() {
        Ok(forms)
    } else {
        Err(issues)
    }
}

/// A pack version's `locales/<lang>.yaml` files.
pub fn pack_translations(loaded: &LoadedPack) -> Result<Vec<Translations>, Vec<FormIssue>> {
    let mut found = Vec::new();
    let mut issues = Vec::new();
    for (path, bytes) in &loaded.content {
        let is_locale =
            path.starts_with("locales/") && (path.ends_with(".yaml") || path.ends_with(".yml"));
        if !is_locale {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        match Translations::from_locale_file(path, None, &text) {
            Ok(t) => found.push(t),
            Err(more) => issues.extend(more),
        }
    }
    if issues.is_empty() {
        Ok(found)
    } else {
        Err(issues)
    }
}

/// Several issues as one message, each naming its file and line.
pub fn describe(issues: &[FormIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Packs {
    /// The forms of the packs enabled for `tenant`, cached until any pack state changes.
    pub async fn forms(self: &Arc<Self>, tenant: &str) -> FhirResult<Arc<TenantForms>> {
        if let Some(found) = self.tenant_forms.lock().unwrap().get(tenant) {
            return Ok(found.clone());
        }
        let epoch = self.cache_epoch();
        let state = self.tenant(tenant).await?;
        let mut loaded = Vec::new();
        for (pack, version) in state.enabled_versions() {
            match self.loaded(pack, version).await {
                Ok(l) => loaded.push((pack.to_string(), version.to_string(), l)),
                Err(err) => {
                    tracing::error!(tenant, pack, version, error = %err.message(), "an enabled pack cannot be loaded; its forms are not offered")
                }
            }
        }
        let mut translations = Vec::new();
        for (pack, _, l) in &loaded {
            match pack_translations(l) {
                Ok(t) => translations.extend(t),
                Err(issues) => {
                    tracing::warn!(tenant, pack = %pack, issues = %describe(&issues), "a pack's locale files have problems")
                }
            }
        }
        let mut forms = BTreeMap::new();
        for (pack, version, l) in &loaded {
            let Ok(pack_forms) = pack_forms(l) else {
                // Checked at install; a form that stopped parsing is not offered.
                tracing::error!(tenant, pack = %pack, "a pack's forms no longer parse");
                continue;
            };
            for mut form in pack_forms {
                for overlay in &translations {
                    // Entries for other forms are expected here: every overlay is offered to
                    // every form, and each takes what is its own.
                    let _unmatched = form.apply_translations(overlay);
                }
                let id = form.id().to_string();
                // Packs are walked in id order: the first to offer an id keeps it (enabling
                // a second pack with a clashing form is refused, `enable`).
                forms.entry(id).or_insert_with(|| {
                    Arc::new(CatalogForm {
                        pack: pack.clone(),
                        pack_version: version.clone(),
                        form,
                    })
                });
            }
        }
        let computed = Arc::new(TenantForms { forms });
        // Not cached when a change raced this computation.
        if self.cache_epoch() == epoch {
            self.tenant_forms
                .lock()
                .unwrap()
                .insert(tenant.to_string(), computed.clone());
        }
        Ok(computed)
    }
}
