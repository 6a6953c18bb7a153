//! Properties of the AWS deployment (infra/template.yaml) that `cfn-lint` cannot know
//! about: what each part may reach, how the queue recovers, what the browser is told.

use serde_yaml::Value;
use terarchitect_functions::http::SECURITY_HEADERS;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).expect("the template is YAML")
}

fn resource<'t>(t: &'t Value, name: &str) -> &'t Value {
    &t["Resources"][name]
}

/// `!Ref X` / `{Ref: X}` → `X`.
fn ref_name(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str(),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

fn header(name: &str) -> &'static str {
    SECURITY_HEADERS.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn every_api_route_is_throttled() {
    let t = template();
    let settings = &resource(&t, "HttpApi")["Properties"]["DefaultRouteSettings"];
    for key in ["ThrottlingBurstLimit", "ThrottlingRateLimit"] {
        assert!(settings[key].as_u64().is_some_and(|n| n > 0), "{key}: {settings:?}");
    }
}

#[test]
fn the_functions_reach_only_https_and_the_database() {
    let t = template();
    let group = &resource(&t, "FunctionSecurityGroup")["Properties"];
    let mut rules: Vec<&Value> = group["SecurityGroupEgress"]
        .as_sequence()
        .expect("explicit egress (the default allows everything)")
        .iter()
        .collect();
    for r in t["Resources"].as_mapping().unwrap().values() {
        if r["Type"] == "AWS::EC2::SecurityGroupEgress"
            && ref_name(&r["Properties"]["GroupId"]) == Some("FunctionSecurityGroup")
        {
            rules.push(&r["Properties"]);
        }
    }
    for r in &rules {
        assert_eq!(r["IpProtocol"], "tcp", "{r:?}");
        let port = (r["FromPort"].as_u64(), r["ToPort"].as_u64());
        match port {
            (Some(443), Some(443)) => {}
            (Some(5432), Some(5432)) => {
                assert_eq!(
                    ref_name(&r["DestinationSecurityGroupId"]),
                    Some("DatabaseSecurityGroup"),
                    "{r:?}"
                )
            }
            _ => panic!("unexpected egress {r:?}"),
        }
    }
    assert!(
        rules.iter().any(|r| r["FromPort"].as_u64() == Some(5432)),
        "the database is reachable"
    );
}

#[test]
fn the_browser_gets_the_same_security_headers_as_from_the_local_server() {
    let t = template();
    let config = &resource(&t, "SecurityHeaders")["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    let csp = config["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        .as_str()
        .unwrap();
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(words(csp), words(header("content-security-policy")));
    assert_eq!(
        config["FrameOptions"]["FrameOption"].as_str(),
        Some(header("x-frame-options"))
    );
    assert_eq!(
        config["ReferrerPolicy"]["ReferrerPolicy"].as_str(),
        Some(header("referrer-policy"))
    );
    assert!(config["ContentTypeOptions"].is_mapping());
    let hsts = &config["StrictTransportSecurity"];
    assert!(hsts["AccessControlMaxAgeSec"].as_u64().unwrap() >= 31_536_000);
    let cdn = &resource(&t, "Cdn")["Properties"]["DistributionConfig"];
    let mut behaviours = vec![&cdn["DefaultCacheBehavior"]];
    behaviours.extend(cdn["CacheBehaviors"].as_sequence().unwrap());
    for b in behaviours {
        assert_eq!(
            ref_name(&b["ResponseHeadersPolicyId"]),
            Some("SecurityHeaders"),
            "{b:?}"
        );
    }
}

#[test]
fn dead_letters_go_back_to_the_queue_through_the_scheduler() {
    let t = template();
    let queue = &resource(&t, "JobQueue")["Properties"];
    let receives = queue["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap();
    let visibility = queue["VisibilityTimeout"].as_u64().unwrap();
    let scheduler = &resource(&t, "SchedulerFunction")["Properties"];
    let env = &scheduler["Environment"]["Variables"];
    assert_eq!(ref_name(&env["JOB_DLQ_URL"]), Some("JobDeadLetterQueue"));
    let unclaimed: u64 = env["REQUEUE_UNCLAIMED_AFTER_SECONDS"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        unclaimed >= receives * visibility,
        "a job is re-sent only once its messages had their chances"
    );
    let policies = serde_yaml::to_string(&scheduler["Policies"]).unwrap();
    assert!(
        policies.contains("SQSPollerPolicy") && policies.contains("JobDeadLetterQueue"),
        "{policies}"
    );
}

#[test]
fn scripts_come_only_from_the_origin() {
    let csp = header("content-security-policy");
    let scripts = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap();
    assert_eq!(scripts, "script-src 'self' 'wasm-unsafe-eval'");
    assert!(csp.contains("frame-ancestors 'none'"));
}
