//! Render and validate a 100-item form, printing p50/p99 (goal: under 2 ms each).
//!
//! Run with `cargo bench -p tessera-forms` (release profile). No criterion: a plain loop with
//! a warm-up, timing each call.

#[path = "../tests/common/big_form.rs"]
mod big_form;

use std::time::{Duration, Instant};

use tessera_forms::{Answers, Form, LogicContext, RenderInput, ResponseMeta};

const WARM_UP: usize = 200;
const ITERATIONS: usize = 3000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// CPU time this thread has used. On a shared machine the wall time of a call includes the
/// time other processes held the core; the CPU time does not.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given and nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn measure(name: &str, mut f: impl FnMut()) {
    for _ in 0..WARM_UP {
        f();
    }
    let mut wall = Vec::with_capacity(ITERATIONS);
    let mut cpu = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let (start, start_cpu) = (Instant::now(), thread_cpu_time());
        f();
        cpu.push(thread_cpu_time() - start_cpu);
        wall.push(start.elapsed());
    }
    wall.sort();
    cpu.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<30} wall p50 {:>6.3} ms  p99 {:>6.3} ms   cpu p50 {:>6.3} ms  p99 {:>6.3} ms",
        ms(percentile(&wall, 0.50)),
        ms(percentile(&wall, 0.99)),
        ms(percentile(&cpu, 0.50)),
        ms(percentile(&cpu, 0.99)),
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench`-less arguments; keep it quick there.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let form = Form::from_yaml("big.yaml", &big_form::yaml()).expect("the generated form reads");
    let ctx = LogicContext::new(time::macros::date!(2024 - 06 - 01));
    let meta = ResponseMeta {
        status: "completed".into(),
        authored: "2024-06-01T10:45:00+05:30".into(),
        subject: Some("Patient/p1".into()),
        encounter: None,
        time_zone: "+05:30".into(),
    };
    let fields = big_form::fields();
    let response = form.response_from_form_fields(&fields, &meta);
    assert!(form.validate(&response, &ctx).is_ok());
    let new_form = RenderInput {
        context: Some(ctx.clone()),
        script_url: Some("/form.js".into()),
        ..RenderInput::default()
    };
    let failed = RenderInput {
        answers: Some(Answers::from_response(&response)),
        errors: vec![tessera_forms::ItemError::new(
            "p3_int",
            "Must be at most 100.",
        )],
        ..new_form.clone()
    };
    println!(
        "100-item form ({} bytes of HTML); {ITERATIONS} runs each after {WARM_UP} warm-up runs",
        form.render(&failed).len()
    );
    measure("render (new form)", || {
        std::hint::black_box(form.render(&new_form));
    });
    measure("render (answers and an error)", || {
        std::hint::black_box(form.render(&failed));
    });
    measure("validate", || {
        std::hint::black_box(form.validate(&response, &ctx).is_ok());
    });
    measure("form fields -> response", || {
        std::hint::black_box(form.response_from_form_fields(&fields, &meta));
    });
    let yaml = big_form::yaml();
    measure("read YAML", || {
        std::hint::black_box(Form::from_yaml("big.yaml", &yaml).is_ok());
    });
}
