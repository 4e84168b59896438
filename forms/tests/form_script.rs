//! The browser script's live behaviour over a rendered form, driven in node with a small DOM
//! stand-in (tests/run-form-script.js): hide/show, disabled controls, calculated values.

mod common;

use std::process::Command;

use tessera_forms::RenderInput;

#[test]
fn the_script_updates_a_rendered_form_as_answers_change() {
    let form = common::anc();
    let html = form.render(&RenderInput {
        prefill: form.prefill(&common::context()),
        context: Some(common::context()),
        script_url: Some("/form.js".into()),
        ..RenderInput::default()
    });
    let page = std::env::temp_dir().join(format!("tessera-forms-{}.html", std::process::id()));
    std::fs::write(&page, html).unwrap();
    let runner = format!("{}/tests/run-form-script.js", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("node")
        .arg(&runner)
        .arg(&page)
        .output()
        .unwrap_or_else(|e| {
            panic!("running `node {runner}` failed ({e}); node 20 must be installed")
        });
    let _ = std::fs::remove_file(&page);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
