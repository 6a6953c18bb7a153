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

/// `!Sub "text"` → `text`.
fn sub_text(v: &Value) -> &str {
    match v {
        Value::Tagged(t) if t.tag == "!Sub" => t.value.as_str().expect("!Sub of a string"),
        _ => panic!("not a !Sub string: {v:?}"),
    }
}

/// The serverless functions, by logical name.
fn functions(t: &Value) -> Vec<(&str, &Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect()
}

fn yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

/// A function's `AWSSecretsManagerGetSecretValuePolicy` entries: the YAML of each one's
/// `SecretArn` and whether it sits in an `!If`.
fn secret_policies(function: &Value) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    for p in function["Properties"]["Policies"].as_sequence().unwrap() {
        let (policy, conditional) = match p {
            Value::Tagged(t) if t.tag == "!If" => (&t.value[1], true),
            p => (p, false),
        };
        let arn = &policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"];
        if !arn.is_null() {
            found.push((yaml(arn).trim().to_string(), conditional));
        }
    }
    found
}

#[test]
fn only_the_migrate_function_logs_in_as_the_master_user() {
    let t = template();
    assert!(
        !yaml(&t["Globals"]).contains("MasterUserSecret"),
        "the functions' shared settings name the master secret"
    );
    let app_secret = "!Ref AppDatabaseSecret";
    for (name, function) in functions(&t) {
        let policies = secret_policies(function);
        let reads = |arn: &str| policies.iter().any(|(a, _)| a == arn);
        let master = reads("!GetAtt Database.MasterUserSecret.SecretArn");
        assert_eq!(master, name == "MigrateFunction", "{name}: {policies:?}");
        assert!(
            reads(app_secret),
            "{name} cannot read the app database login: {policies:?}"
        );
        if name != "MigrateFunction" {
            assert!(
                !yaml(function).contains("MasterUserSecret"),
                "{name} names the master secret"
            );
        }
    }
    // Nothing else (roles, outputs aside) is given the master secret either.
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if !["Database", "MigrateFunction"].contains(&name) {
            assert!(!yaml(r).contains("MasterUserSecret"), "{name} names the master secret");
        }
    }
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(ref_name(&env["DATABASE_SECRET_ARN"]), Some("AppDatabaseSecret"));
    let migrate = &resource(&t, "MigrateFunction")["Properties"]["Environment"]["Variables"];
    assert_eq!(
        yaml(&migrate["DATABASE_SECRET_ARN"]).trim(),
        "!GetAtt Database.MasterUserSecret.SecretArn"
    );
    assert_eq!(ref_name(&migrate["DATABASE_APP_SECRET_ARN"]), Some("AppDatabaseSecret"));

    // Its own generated password, under the stack's key, in the shape the code reads.
    let secret = &resource(&t, "AppDatabaseSecret");
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    assert_eq!(ref_name(&secret["Properties"]["KmsKeyId"]), Some("Key"));
    let generate = &secret["Properties"]["GenerateSecretString"];
    assert_eq!(generate["GenerateStringKey"], "password");
    let shape: serde_json::Value = serde_json::from_str(generate["SecretStringTemplate"].as_str().unwrap()).unwrap();
    let username = shape["username"].as_str().unwrap();
    assert!(!username.is_empty() && resource(&t, "Database")["Properties"]["MasterUsername"] != username);
}

#[test]
fn the_functions_verify_the_database_certificate_and_name() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    let env = &globals["Environment"]["Variables"];
    let ca_file = env["DATABASE_CA_FILE"].as_str().expect("DATABASE_CA_FILE is set");
    // Layers are mounted at /opt; the bundle is what deploy.sh puts in the layer.
    let in_layer = ca_file.strip_prefix("/opt/").expect("the bundle comes from a layer");
    let layers: Vec<Option<&str>> = globals["Layers"].as_sequence().unwrap().iter().map(ref_name).collect();
    assert_eq!(layers, [Some("DatabaseCaLayer")]);
    let layer = &resource(&t, "DatabaseCaLayer")["Properties"];
    let dir = layer["ContentUri"].as_str().unwrap();
    let deploy = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/deploy.sh")).unwrap();
    assert!(
        deploy.contains(&format!("RDS_CA_FILE=infra/{dir}/{in_layer}\n")),
        "deploy.sh fills the layer"
    );
    assert!(deploy.contains("RDS_CA_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"));
    // No function weakens the default mode (verify-full, config.rs) or swaps the bundle.
    assert!(env["DATABASE_SSLMODE"].is_null());
    for (name, function) in functions(&t) {
        let vars = &function["Properties"]["Environment"]["Variables"];
        for key in ["DATABASE_SSLMODE", "DATABASE_CA_FILE"] {
            assert!(vars[key].is_null(), "{name} sets {key}");
        }
        assert!(
            function["Properties"]["Layers"].is_null(),
            "{name} has layers of its own"
        );
    }
}

#[test]
fn the_previous_secret_key_is_readable_only_while_it_is_given() {
    let t = template();
    let param = &t["Parameters"]["PreviousSecretKeyArn"];
    assert_eq!(param["Default"], "", "optional");
    let condition = yaml(&t["Conditions"]["HasPreviousSecretKey"]);
    assert!(
        condition.contains("!Not") && condition.contains("PreviousSecretKeyArn"),
        "{condition}"
    );
    let conditional = |v: &Value| -> Option<String> {
        match v {
            Value::Tagged(tag) if tag.tag == "!If" => {
                assert_eq!(tag.value[0], "HasPreviousSecretKey");
                assert_eq!(yaml(&tag.value[2]).trim(), "!Ref AWS::NoValue");
                Some(yaml(&tag.value[1]))
            }
            _ => None,
        }
    };
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    let value = conditional(&env["TERARCHITECT_SECRET_KEY_PREVIOUS_ARN"]).expect("set only when given");
    assert_eq!(value.trim(), "!Ref PreviousSecretKeyArn");
    // Every function that opens secrets (reads the key) may read the previous key, and
    // only under the condition.
    for (name, function) in functions(&t) {
        let policies = secret_policies(function);
        let reads_key = policies.iter().any(|(a, _)| a == "!Ref AppSecretKey");
        let previous: Vec<(String, bool)> = policies
            .into_iter()
            .filter(|(a, _)| a.contains("PreviousSecretKeyArn"))
            .collect();
        let expected = match reads_key {
            true => vec![("!Ref PreviousSecretKeyArn".to_string(), true)],
            false => vec![],
        };
        assert_eq!(previous, expected, "{name}");
    }
    // Referenced nowhere else.
    let everywhere = yaml(&t["Resources"]);
    let policy_refs = functions(&t)
        .iter()
        .filter(|(_, f)| yaml(&f["Properties"]["Policies"]).contains("PreviousSecretKeyArn"))
        .count();
    assert_eq!(everywhere.matches("PreviousSecretKeyArn").count(), policy_refs);
}

#[test]
fn the_worker_routes_are_only_on_the_private_api() {
    let t = template();
    // Public HTTP API: the UI's routes only, and CloudFront forwards nothing else.
    for (name, f) in functions(&t) {
        for (_, e) in f["Properties"]["Events"].as_mapping().into_iter().flatten() {
            let path = e["Properties"]["Path"].as_str().unwrap_or_default();
            if e["Type"] == "HttpApi" {
                assert!(path.starts_with("/api/"), "{name}: {path} is public");
            }
        }
    }
    let cdn = &resource(&t, "Cdn")["Properties"]["DistributionConfig"];
    for b in cdn["CacheBehaviors"].as_sequence().unwrap() {
        assert!(b["PathPattern"].as_str().unwrap().starts_with("/api/"), "{b:?}");
    }

    // The worker API function: every route on the private REST API.
    let worker = &resource(&t, "WorkerApiFunction")["Properties"];
    let mut paths = vec![];
    for (_, e) in worker["Events"].as_mapping().unwrap() {
        assert_eq!(e["Type"], "Api", "{e:?}");
        assert_eq!(ref_name(&e["Properties"]["RestApiId"]), Some("WorkerApi"), "{e:?}");
        paths.push(e["Properties"]["Path"].as_str().unwrap());
    }
    paths.sort();
    assert_eq!(paths, ["/agent/{proxy+}", "/v1/embeddings", "/worker/{proxy+}"]);
    // The stage ("private") is not part of the routes the function knows.
    assert_eq!(
        worker["Environment"]["Variables"]["AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH"],
        "true"
    );

    // Private, reachable only through the endpoint, which only the worker hosts reach.
    let api = &resource(&t, "WorkerApi")["Properties"];
    assert_eq!(api["EndpointConfiguration"]["Type"], "PRIVATE");
    let vpces: Vec<_> = api["EndpointConfiguration"]["VPCEndpointIds"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(ref_name)
        .collect();
    assert_eq!(vpces, [Some("WorkerApiEndpoint")]);
    let statements = api["Auth"]["ResourcePolicy"]["CustomStatements"].as_sequence().unwrap();
    for s in statements {
        let (op, want) = match s["Effect"].as_str().unwrap() {
            "Allow" => ("StringEquals", "allowed only from the endpoint"),
            "Deny" => ("StringNotEquals", "denied from anywhere else"),
            e => panic!("{e}"),
        };
        assert_eq!(
            ref_name(&s["Condition"][op]["aws:SourceVpce"]),
            Some("WorkerApiEndpoint"),
            "{want}: {s:?}"
        );
    }
    assert!(statements.iter().any(|s| s["Effect"] == "Deny"), "an explicit deny");
    let endpoint = &resource(&t, "WorkerApiEndpoint")["Properties"];
    assert!(sub_text(&endpoint["ServiceName"]).ends_with(".execute-api"));
    let groups: Vec<_> = endpoint["SecurityGroupIds"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(ref_name)
        .collect();
    assert_eq!(groups, [Some("WorkerApiEndpointSecurityGroup")]);
    let ingress = resource(&t, "WorkerApiEndpointSecurityGroup")["Properties"]["SecurityGroupIngress"]
        .as_sequence()
        .unwrap();
    for r in ingress {
        assert_eq!((r["FromPort"].as_u64(), r["ToPort"].as_u64()), (Some(443), Some(443)));
        assert_eq!(
            ref_name(&r["SourceSecurityGroupId"]),
            Some("WorkerSecurityGroup"),
            "{r:?}"
        );
    }
    // Throttled like every route.
    let all = api["MethodSettings"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["ResourcePath"] == "/*" && m["HttpMethod"] == "*")
        .expect("a throttle for every method");
    for key in ["ThrottlingBurstLimit", "ThrottlingRateLimit"] {
        assert!(all[key].as_u64().is_some_and(|n| n > 0), "{key}: {all:?}");
    }
}

#[test]
fn each_worker_host_reaches_the_private_api_with_a_token_of_its_own() {
    let t = template();
    let stage = resource(&t, "WorkerApi")["Properties"]["StageName"].as_str().unwrap();
    let data = &resource(&t, "WorkerLaunchTemplate")["Properties"]["LaunchTemplateData"];
    let script = sub_text(&data["UserData"]["Fn::Base64"]);
    // Hosts get the private API's endpoint-specific URL, not the public API; agents the
    // function URL that serves only their routes (long LLM calls).
    let url = format!(
        "WORKER_API=https://${{WorkerApi}}-${{WorkerApiEndpoint}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}\n"
    );
    assert!(script.contains(&url), "{script}");
    for line in [
        "TERARCHITECT_API_URL=$WORKER_API",
        "TERARCHITECT_AGENT_API_URL=${AgentApiFunctionUrl.FunctionUrl}",
    ] {
        assert!(script.lines().any(|l| l.trim() == line), "{line}");
    }
    assert!(!script.contains("${HttpApi}"), "{script}");
    // The queue and its token come through the VPC endpoints (private DNS): they let it in.
    let into_endpoints = t["Resources"].as_mapping().unwrap().values().any(|r| {
        r["Type"] == "AWS::EC2::SecurityGroupIngress"
            && ref_name(&r["Properties"]["GroupId"]) == Some("EndpointSecurityGroup")
            && ref_name(&r["Properties"]["SourceSecurityGroupId"]) == Some("WorkerSecurityGroup")
            && r["Properties"]["FromPort"].as_u64() == Some(443)
    });
    assert!(
        into_endpoints,
        "worker hosts reach the SQS and Secrets Manager endpoints"
    );
    // Its token is its own: minted for its instance id, read from its own secret.
    let prefix = "${AWS::StackName}/worker-host/";
    assert!(
        script.lines().any(|l| l.trim() == "WORKER_HOST_ID=$INSTANCE_ID"),
        "{script}"
    );
    assert!(
        script.contains(&format!("--secret-id \"{prefix}$INSTANCE_ID\"")),
        "{script}"
    );
    let policies = &resource(&t, "WorkerRole")["Properties"]["Policies"];
    let reads: Vec<&Value> = policies
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_sequence().unwrap())
        .filter(|s| s["Action"] == "secretsmanager:GetSecretValue")
        .collect();
    assert_eq!(
        reads.len(),
        1,
        "no other secret (no token shared by every host): {reads:?}"
    );
    assert!(sub_text(&reads[0]["Resource"]).ends_with(&format!(":secret:{prefix}*")));
    let tag = format!(
        "secretsmanager:ResourceTag/{}",
        terarchitect_functions::domain::hosts::HOST_ARN_TAG
    );
    assert_eq!(
        sub_text(&reads[0]["Condition"]["StringEquals"][tag.as_str()]),
        "${!ec2:SourceInstanceARN}",
        "only the instance the secret is tagged with reads it"
    );
    // The group's launch and terminate events mint and revoke it.
    for (rule, command) in [
        ("WorkerLaunchRule", "register-host"),
        ("WorkerTerminateRule", "retire-host"),
    ] {
        let p = &resource(&t, rule)["Properties"];
        assert_eq!(
            ref_name(&p["EventPattern"]["detail"]["AutoScalingGroupName"][0]),
            Some("WorkerGroup")
        );
        let target = &p["Targets"][0];
        let input = sub_text(&target["InputTransformer"]["InputTemplate"]);
        assert!(
            input.contains(&format!("[\"{command}\", \"--host\", \"<instance>\"")),
            "{input}"
        );
        assert!(input.contains(&format!("\"--secret-prefix\", \"{prefix}\"")), "{input}");
    }
}

#[test]
fn the_agents_function_url_serves_only_the_agents_routes() {
    let t = template();
    let f = &t["Resources"]["AgentApiFunction"]["Properties"];
    assert_eq!(f["FunctionUrlConfig"]["AuthType"], "NONE", "job tokens authenticate");
    assert_eq!(f["Environment"]["Variables"]["WORKER_API_ROUTES"], "agent");
}
