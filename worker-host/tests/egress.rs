//! The egress allowlist with the real Docker engine: an agent container reaches
//! Terarchitect and the project's `egress_allow` hosts through its job's proxy, and
//! nothing else: not another port, not this host's own services, not a direct connection.

mod common;

use std::process::Command;

use common::*;
use terarchitect_functions::domain;
use terarchitect_protocol::JobStatus;
use terarchitect_testkit::docker::networks_with_label;
use terarchitect_testkit::eventually;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_reaches_only_terarchitect_and_the_allowed_hosts() {
    let env = Env::new().await;
    // An allow-listed service elsewhere on the network: the stand-in agent serving HTTP in
    // a container on Docker's default bridge (removed with the env's label).
    let label = env.label();
    let server = docker(&["run", "-d", "--label", &label, &agent_image(), "--serve", "8000"]);
    let ip = docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &server]);
    eventually("the stand-in serves", secs(20), || async {
        std::net::TcpStream::connect((ip.as_str(), 8000)).ok().map(|_| ())
    })
    .await;
    // This host's address on Docker's default bridge.
    let bridge = docker(&["inspect", "-f", "{{.NetworkSettings.Gateway}}", &server]);
    let api = env.port;
    // This host's own API allowed by name and by address: still refused, as this machine.
    let allow = format!("{ip}:8000, localhost:{api}, {bridge}:{api}");
    let update = [("egress_allow".to_string(), Some(serde_json::json!(allow)))]
        .into_iter()
        .collect();
    domain::settings::update(&env.app, Some(env.project.id), &update)
        .await
        .unwrap();
    // A bad entry is the caller's mistake.
    let bad = [("egress_allow".to_string(), Some(serde_json::json!("http://pypi.org")))]
        .into_iter()
        .collect();
    let err = domain::settings::update(&env.app, Some(env.project.id), &bad)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("host name"), "{err}");

    // A job network an earlier life of this host left without its container is swept
    // when the host starts.
    let host_label = format!("terarchitect.host-id={}", env.host_id);
    let orphan = format!("terarchitect-job-orphan-{}", env.host_id);
    docker(&["network", "create", "--internal", "--label", &host_label, &orphan]);
    let host = RunningHost::docker(env.config(1)).await;
    eventually("the orphan network is swept", secs(20), || async {
        (!networks_with_label(&host_label).contains(&orphan)).then_some(())
    })
    .await;
    // Two jobs: a ticket title (the script) holds at most 200 characters.
    let fetches = env
        .queue_job(&format!(
            "--fetch http://{ip}:8000/ --fetch http://{ip}:8001/ --fetch http://localhost:{api}/ \
             --fetch http://{bridge}:{api}/ --fetch http://example.com/ --exit 1"
        ))
        .await;
    let connects = env
        .queue_job(&format!(
            "--connect {ip}:8000 --connect {bridge}:{api} --connect proxy:{api} --exit 1"
        ))
        .await;
    let mut events = Vec::new();
    for job in [fetches, connects] {
        eventually("the job ends", secs(90), || async {
            (env.job(job).await.status == JobStatus::Failed).then_some(())
        })
        .await;
        events.extend(env.events(job).await);
    }
    let line = |prefix: &str| {
        events
            .iter()
            .find(|e| e.step == "stdout" && e.summary.starts_with(prefix))
            .map(|e| e.summary.clone())
            .unwrap_or_else(|| panic!("no line {prefix:?} in {events:#?}"))
    };
    // Terarchitect itself, through the proxy: the title came from the API.
    assert!(line("context: ").contains("--fetch"));
    assert!(line(&format!("fetch http://{ip}:8000/:")).contains("200 OK | hello from the stand-in"));
    for (url, why) in [
        (format!("http://{ip}:8001/"), "not in the project's egress allowlist"),
        (format!("http://localhost:{api}/"), "resolves to"),
        (format!("http://{bridge}:{api}/"), "an address of this machine"),
        (
            "http://example.com/".to_string(),
            "not in the project's egress allowlist",
        ),
    ] {
        let l = line(&format!("fetch {url}:"));
        assert!(l.contains("403") && l.contains(why), "{l}");
    }
    // Around the proxy there is no way out, nor into this host.
    for addr in [format!("{ip}:8000"), format!("{bridge}:{api}"), format!("proxy:{api}")] {
        let l = line(&format!("connect {addr}:"));
        assert!(l.contains("failed"), "{l}");
    }
    // Each refusal is in the job's log, once per destination; the allowed call is not.
    let refused: Vec<&str> = events
        .iter()
        .filter(|e| e.step == "egress_refused")
        .map(|e| e.summary.as_str())
        .collect();
    for dest in [
        format!("{ip}:8001"),
        format!("localhost:{api}"),
        format!("{bridge}:{api}"),
        "example.com:80".into(),
    ] {
        assert_eq!(
            refused.iter().filter(|s| s.contains(&dest)).count(),
            1,
            "{dest}: {refused:#?}"
        );
    }
    assert!(
        !refused.iter().any(|s| s.contains(&format!("{ip}:8000"))),
        "{refused:#?}"
    );
    // The job's network goes with its container.
    eventually("the job network is removed", secs(20), || async {
        networks_with_label(&host_label).is_empty().then_some(())
    })
    .await;
    host.stop().await;
}
