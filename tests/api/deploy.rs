//! Everything under deploy/ is checked by the tool that will read it: systemd units by
//! `systemd-analyze verify`, the container file by hadolint, the nginx and HAProxy
//! configurations by `nginx -t` and `haproxy -c`, the Kubernetes manifests by
//! kubernetes-validate against the API's schemas, the Litestream configurations by
//! Litestream; and every flag they pass to the server is one it takes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(rel: &str) -> PathBuf {
    root().join("deploy").join(rel)
}

/// A program on PATH or in /usr/sbin (nginx, haproxy: ./test.sh installs them).
fn system(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/sbin", "/sbin"]) {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is missing: run ./test.sh, which installs it");
}

/// Runs a command; asserts it succeeded; returns its output (stdout + stderr).
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn fails(cmd: &mut Command) -> bool {
    !cmd.output().unwrap().status.success()
}

#[test]
fn systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    for unit in ["storefront-primary.service", "storefront-replica.service"] {
        // the unit as installed, with the binary where this build put it
        let text = std::fs::read_to_string(deploy(&format!("systemd/{unit}"))).unwrap();
        let text = text.replace("/usr/local/bin/storefront", env!("CARGO_BIN_EXE_storefront"));
        std::fs::write(dir.path().join(unit), text).unwrap();
        let out = run(Command::new("systemd-analyze").arg("verify").arg(dir.path().join(unit)));
        assert!(out.trim().is_empty(), "{unit}: {out}");
    }
    // the check can fail: a unit with a typo is reported
    std::fs::write(dir.path().join("bad.service"), "[Service]\nExecStart=/bin/true\nRestartt=always\n").unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(dir.path().join("bad.service")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Restartt"));
}

#[test]
fn the_container_file_passes_hadolint() {
    run(Command::new(crate::common::venv_tool("hadolint")).arg(deploy("Dockerfile")));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian\nRUN apt-get install curl\n").unwrap();
    assert!(
        fails(Command::new(crate::common::venv_tool("hadolint")).arg(&bad)),
        "hadolint refuses an unpinned, root, untagged image"
    );
}

#[test]
fn nginx_and_haproxy_take_their_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("nginx.conf");
    let conf = deploy("nginx/storefront.conf");
    std::fs::write(
        &main,
        format!(
            "pid nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n  access_log off;\n  include {};\n}}\n",
            conf.display()
        ),
    )
    .unwrap();
    run(Command::new(system("nginx")).arg("-t").arg("-p").arg(dir.path()).arg("-c").arg(&main).args(["-e", "stderr"]));
    run(Command::new(system("haproxy")).arg("-c").arg("-f").arg(deploy("haproxy/haproxy.cfg")));
    let bad = dir.path().join("bad.cfg");
    std::fs::write(&bad, "frontend x\n    bind :80\n    use_backend nowhere\n").unwrap();
    assert!(fails(Command::new(system("haproxy")).arg("-c").arg("-f").arg(&bad)));
}

#[test]
fn kubernetes_manifests_validate_against_the_api_schemas() {
    for file in ["kubernetes/storefront.yaml", "kubernetes/replica-sidecar.yaml"] {
        let out = run(Command::new(crate::common::venv_tool("kubernetes-validate")).arg("--strict").arg(deploy(file)));
        assert!(!out.contains("WARN") && !out.contains("ERROR"), "{file}: {out}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: two\n")
        .unwrap();
    assert!(fails(Command::new(crate::common::venv_tool("kubernetes-validate")).arg("--strict").arg(&bad)));
}

/// Kubernetes trusts the pod network only behind NetworkPolicies that let nothing but the
/// ingress controller reach the replicas and nothing but the replicas reach the primary; the
/// replicas hold a credential of their own (one that only reads).
#[test]
fn kubernetes_says_who_is_trusted() {
    // the manifests as JSON, read by PyYAML (kubernetes-validate's own reader)
    let json = run(Command::new(crate::common::venv_tool("python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        ])
        .arg(deploy("kubernetes/storefront.yaml")));
    let docs: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let of_kind =
        |kind: &str| -> Vec<serde_json::Value> { docs.iter().filter(|d| d["kind"] == kind).cloned().collect() };
    let config = of_kind("ConfigMap")[0]["data"]["storefront.toml"].as_str().unwrap().to_owned();
    let config: storefront::config::Config = toml::from_str(&config).unwrap();
    assert!(!config.trusted_proxies.iter().any(|n| n == "10.0.0.0/8"), "{:?}", config.trusted_proxies);
    let policy = |component: &str| {
        of_kind("NetworkPolicy")
            .into_iter()
            .find(|p| p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component)
            .unwrap_or_else(|| panic!("no NetworkPolicy for the {component}"))
    };
    let from = policy("primary")["spec"]["ingress"][0]["from"].clone();
    assert_eq!(from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], "replica", "{from}");
    let from = policy("replica")["spec"]["ingress"][0]["from"].clone();
    assert_eq!(from[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"], "ingress-nginx", "{from}");
    let secret_of = |kind: &'static str| -> String {
        let workload = of_kind(kind).remove(0);
        workload["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(secret_of("StatefulSet"), "storefront-s3");
    assert_eq!(secret_of("Deployment"), "storefront-s3-read", "replicas get the read-only credential");
}

#[test]
fn litestream_reads_the_configurations() {
    for (file, kind) in [("file", "file"), ("s3", "s3"), ("sftp", "sftp")] {
        let out = run(Command::new(crate::common::venv_tool("litestream"))
            .args(["databases", "-config"])
            .arg(deploy(&format!("litestream/{file}.yml")))
            .env("AWS_ACCESS_KEY_ID", "example")
            .env("AWS_SECRET_ACCESS_KEY", "example"));
        assert!(out.contains("/var/lib/storefront/storefront.db") && out.contains(kind), "{file}: {out}");
    }
}

/// The flags the deploy files pass to `storefront serve` are flags it has.
#[test]
fn every_flag_in_deploy_is_a_flag_of_serve() {
    let help = run(Command::new(env!("CARGO_BIN_EXE_storefront")).args(["serve", "--help"]));
    let mut seen = 0;
    for file in [
        "kubernetes/storefront.yaml",
        "kubernetes/replica-sidecar.yaml",
        "systemd/storefront-primary.service",
        "systemd/storefront-replica.service",
    ] {
        let text = std::fs::read_to_string(deploy(file)).unwrap();
        // the server's lines only (the sidecar's Litestream has flags of its own)
        for line in text.lines().filter(|l| !l.contains("litestream") && !l.trim_start().starts_with('#')) {
            for word in line.split(|c: char| c.is_whitespace() || c == '"' || c == '[' || c == ']' || c == ',') {
                let flag = word.trim_start_matches("- ");
                if flag.strip_prefix("--").is_some_and(|f| f.starts_with(|c: char| c.is_ascii_lowercase())) {
                    assert!(help.contains(flag), "{file} passes {flag}, which `storefront serve` does not take");
                    seen += 1;
                }
            }
        }
    }
    assert!(seen >= 4, "flags found: {seen}");
}
