//! `tessera bench --auth`: the per-request cost of identity and access — verifying a bearer
//! token (signature and claims; and the cached path a client re-sending its token takes),
//! mapping its roles to a grant, and one permission check. No database or network involved.

use std::time::Instant;

use anyhow::Result;

use crate::auth::local::{LocalIssuer, TokenRequest};
use crate::auth::rbac::Action;
use crate::auth::verify::Verifier;
use crate::auth::Auth;

#[derive(Debug)]
pub struct AuthReport {
    pub iterations: usize,
    /// Microseconds per request, medians.
    pub verify_uncached_us: f64,
    /// The same with RS256 tokens (Keycloak's default algorithm).
    pub verify_uncached_rs256_us: f64,
    pub verify_cached_us: f64,
    pub grant_and_check_us: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(iterations: usize) -> Result<AuthReport> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-auth-{}", std::process::id()));
    let issuer = LocalIssuer::open(&dir, "urn:tessera:bench".into())?;
    let mut verifier = Verifier::new(60);
    let (config, keys) = issuer.trust();
    verifier.trust(config, keys);
    let auth = Auth {
        verifier,
        local: None,
        policies: Default::default(),
    };
    let policy = crate::auth::tenant_policy::TenantPolicy {
        catalog: crate::auth::rbac::RoleCatalog::system().clone(),
        ..Default::default()
    };
    // Distinct tokens, so the uncached measurement really checks a signature each time.
    let tokens: Vec<String> = (0..iterations)
        .map(|i| {
            issuer.issue(&TokenRequest {
                tenant: "acme".into(),
                subject: format!("user-{i}"),
                username: Some(format!("user {i}")),
                roles: vec!["clinician".into(), "offline_access".into()],
                patient: None,
                lifetime_seconds: 600,
            })
        })
        .collect::<Result<_>>()?;
    let mut uncached = Vec::with_capacity(iterations);
    for token in &tokens {
        let t = Instant::now();
        std::hint::black_box(auth.verifier.verify_uncached(token).await?);
        uncached.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let rs256 = rs256_uncached(iterations).await?;
    let mut cached = Vec::with_capacity(iterations);
    auth.authenticate(&tokens[0]).await?;
    for _ in 0..iterations {
        let t = Instant::now();
        std::hint::black_box(auth.authenticate(&tokens[0]).await?);
        cached.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let principal = auth.authenticate(&tokens[0]).await?;
    let mut checks = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let grant = auth.grant(&principal, "acme", &policy);
        std::hint::black_box(
            grant
                .require(Action::Read, "Observation")
                .map_err(|e| anyhow::anyhow!(e.message()))?,
        );
        checks.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(AuthReport {
        iterations,
        verify_uncached_us: median(uncached),
        verify_uncached_rs256_us: rs256,
        verify_cached_us: median(cached),
        grant_and_check_us: median(checks),
    })
}

/// RS256 verification through the same `Verifier`, with a benchmark-only key.
async fn rs256_uncached(iterations: usize) -> Result<f64> {
    use crate::auth::issuers::IssuerConfig;
    use crate::auth::jwks::{KeyFamily, KeySource, VerifyingKey};
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
    let private = EncodingKey::from_rsa_pem(include_bytes!("bench_keys/rsa-2048-bench-only.pem"))?;
    let public =
        DecodingKey::from_rsa_pem(include_bytes!("bench_keys/rsa-2048-bench-only.pub.pem"))?;
    let issuer = "https://bench.invalid/realms/bench";
    let config: IssuerConfig = serde_yaml::from_str(&format!(
        "issuer: {issuer}\ntenants: [acme]\nclient_id: tessera\n"
    ))?;
    let key = VerifyingKey {
        key: std::sync::Arc::new(public),
        algorithm: Some(Algorithm::RS256),
        family: KeyFamily::Rsa,
    };
    let mut verifier = Verifier::new(60);
    verifier.trust(
        config,
        KeySource::Static([("bench".to_string(), key)].into()),
    );
    let now = crate::clock::now_micros() / 1_000_000;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("bench".into());
    let tokens: Vec<String> = (0..iterations)
        .map(|i| {
            jsonwebtoken::encode(
                &header,
                &serde_json::json!({
                    "iss": issuer, "sub": format!("user-{i}"), "aud": "account", "azp": "tessera",
                    "exp": now + 600, "iat": now, "typ": "Bearer",
                    "realm_access": {"roles": ["clinician"]},
                }),
                &private,
            )
        })
        .collect::<Result<_, _>>()?;
    let mut times = Vec::with_capacity(iterations);
    for token in &tokens {
        let t = Instant::now();
        std::hint::black_box(verifier.verify_uncached(token).await?);
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(median(times))
}

pub fn print(report: &AuthReport) {
    println!(
        "\nidentity and access, per request (median of {} runs, EdDSA tokens of the local issuer):",
        report.iterations
    );
    println!(
        "  token verification, signature checked:  {:>8.1} µs (EdDSA), {:.1} µs (RS256)",
        report.verify_uncached_us, report.verify_uncached_rs256_us
    );
    println!(
        "  token verification, token seen before:  {:>8.1} µs",
        report.verify_cached_us
    );
    println!(
        "  roles -> grant, plus one permission check: {:>6.1} µs",
        report.grant_and_check_us
    );
    println!(
        "  total, cached keys (goal < 25 µs):       {:>8.1} µs first request (RS256), {:.1} µs after",
        report.verify_uncached_rs256_us + report.grant_and_check_us,
        report.verify_cached_us + report.grant_and_check_us
    );
}
