//! `tessera-pack test`: build the pack, start a real Tessera server in this process on a
//! scratch SQLite database, install the archive, and run `tests/*.yaml` — each file in a
//! fresh organization with the pack enabled and consented to.

use anyhow::{bail, Result};
use tracing_subscriber::layer::SubscriberExt;

use crate::cli::TestArgs;
use crate::commands::{build, check};
use crate::host::LocalHost;
use crate::problem;
use crate::testing::format;
use crate::testing::pack_log::PackLog;
use crate::testing::runner::{Runner, Summary};
use crate::ui::Style;

/// The organization the platform admin installs from.
const ADMIN_TENANT: &str = "tessera-pack";

pub async fn run(args: &TestArgs) -> Result<()> {
    let built = if args.no_build {
        build::existing(&args.pack)?
    } else {
        build::run(&args.pack).await?
    };
    let project = &built.project;
    let files: Vec<String> = check::list_tests(project)
        .into_iter()
        .filter(|f| args.filter.as_deref().is_none_or(|part| f.contains(part)))
        .collect();
    if files.is_empty() {
        bail!(
            "no test files in {}/tests (write tests/<name>.yaml; see the pack author guide)",
            project.root.display()
        );
    }
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        match project
            .read_text(file)
            .map_err(|p| vec![p])
            .and_then(|text| format::parse(file, &text))
        {
            Ok(tests) => parsed.push((file.clone(), tests)),
            Err(found) => problems.extend(found),
        }
    }
    if !problems.is_empty() {
        return Err(problem::into_error(&problems, "the pack's tests"));
    }

    let log = PackLog::default();
    // The server reports what the pack logs under the `pack` target; collect it to show
    // beside a failed case. Ignored if a subscriber is already set (the process's first wins).
    let _ =
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.layer()));

    let host = LocalHost::start("127.0.0.1:0".parse()?, None).await?;
    host.create_tenant(ADMIN_TENANT).await?;
    host.install(ADMIN_TENANT, built.archive.write()).await?;
    let runner = Runner {
        host: &host,
        manifest: &built.manifest,
        pack_root: &project.root,
        log: &log,
        style: Style::detect(),
    };
    let mut summary = Summary::default();
    let mut outcome = Ok(());
    for (i, (file, tests)) in parsed.iter().enumerate() {
        if let Err(err) = runner
            .run_file(file, tests, &format!("test-{}", i + 1), &mut summary)
            .await
        {
            outcome = Err(err);
            break;
        }
    }
    host.shutdown().await?;
    outcome?;
    let total = summary.passed + summary.failed;
    if summary.failed > 0 {
        bail!("{} of {total} cases failed", summary.failed);
    }
    println!("{} passed", total);
    Ok(())
}
