//! A stand-in agent for the worker host's tests and benchmark: std only, so it links
//! statically and runs in a `FROM scratch` image (`rustc -C target-feature=+crt-static`).
//!
//! Arguments (in any order):
//!   --context        GET $TERARCHITECT_API_URL/agent/context with the job token and print the ticket title
//!   --from-title     like --context, then run the words of the ticket title as further arguments
//!                    (lets one test host run jobs with different behaviours)
//!   --lines N        print N numbered lines (alternating stdout/stderr)
//!   --sleep SECS     sleep (fractional seconds allowed)
//!   --hang           wait until SIGTERM, then exit 143
//!   --ignore-term    ignore SIGTERM (the host must SIGKILL)
//!   --pr TITLE       open the ticket's PR through the API (PUT /agent/pull-request)
//!                    and print `TERARCHITECT_PR_URL=` with the URL it answers
//!   --caps           print its effective capabilities and NoNewPrivs (/proc/self/status)
//!   --say LINE       print LINE on stdout (what a hostile agent might claim)
//!   --fetch URL      GET an http:// URL (through $HTTP_PROXY when set) and print
//!                    `fetch URL: STATUS-LINE | FIRST-BODY-LINE` or `fetch URL: error ...`
//!   --connect ADDR   open a TCP connection to ADDR (ip:port, or proxy:port for the egress
//!                    proxy's address), bypassing any proxy, and print `connect ADDR: ok`
//!                    or `connect ADDR: failed ...`
//!   --serve PORT     answer every HTTP request on PORT with "hello from the stand-in", forever
//!   --exit CODE      exit with CODE (default 0)
//!   --leak-token     print the job token (as a misbehaving agent might), in two writes,
//!                    and in its error line
//!                    on stdout and once on stderr, for the host to redact

use std::io::{Read, Write};
use std::time::Duration;

unsafe extern "C" {
    fn signal(sig: i32, handler: usize) -> usize;
    fn _exit(code: i32) -> !;
}

const SIGTERM: i32 = 15;
const SIG_IGN: usize = 1;

extern "C" fn on_term(_: i32) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { _exit(143) }
}

fn main() {
    // PID 1 in a container ignores signals without a handler: install one explicitly.
    // SAFETY: plain libc calls with a valid handler.
    unsafe { signal(SIGTERM, on_term as *const () as usize) };
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut code = 0;
    let mut i = 0;
    let job = std::env::var("TERARCHITECT_JOB_ID").unwrap_or_default();
    println!("test-agent starting for job {job}");
    while i < args.len() {
        let next = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--context" => {
                println!("context: {}", context().unwrap_or_else(|e| format!("error {e}")));
                i += 1;
            }
            "--from-title" => {
                match context() {
                    Ok(title) => {
                        println!("context: {title}");
                        args.extend(title.split_whitespace().map(String::from));
                    }
                    Err(e) => {
                        eprintln!("cannot fetch the context: {e}");
                        code = 2;
                    }
                }
                i += 1;
            }
            "--lines" => {
                for n in 1..=next.parse::<u32>().unwrap_or(0) {
                    if n % 2 == 0 {
                        eprintln!("line {n} of job {job}");
                    } else {
                        println!("line {n} of job {job}");
                    }
                }
                i += 2;
            }
            "--caps" => {
                // What the container allows: effective capabilities and no_new_privs.
                let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
                for l in status.lines().filter(|l| l.starts_with("CapEff:") || l.starts_with("NoNewPrivs:")) {
                    println!("status {}", l.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                i += 1;
            }
            "--sleep" => {
                std::thread::sleep(Duration::from_secs_f64(next.parse().unwrap_or(0.0)));
                i += 2;
            }
            "--hang" => {
                println!("hanging until SIGTERM");
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            "--ignore-term" => {
                // SAFETY: plain libc call.
                unsafe { signal(SIGTERM, SIG_IGN) };
                i += 1;
            }
            "--pr" => {
                let body = format!("{{\"title\":\"{next}\",\"body\":\"opened by the test agent\"}}");
                match request("PUT", "agent/pull-request", Some(&body)) {
                    Ok(reply) => match field(&reply, "url") {
                        Some(url) => println!("TERARCHITECT_PR_URL={url}"),
                        None => {
                            eprintln!("no PR in the reply: {reply}");
                            code = 1;
                        }
                    },
                    Err(e) => {
                        eprintln!("cannot open the PR: {e}");
                        code = 1;
                    }
                }
                i += 2;
            }
            "--leak-token" => {
                let token = std::env::var("TERARCHITECT_JOB_TOKEN").unwrap_or_default();
                let (a, b) = token.split_at(token.len() / 2);
                // Two writes with a pause: the engine hands them over as separate chunks.
                print!("job token: {a}");
                std::io::stdout().flush().ok();
                std::thread::sleep(Duration::from_millis(200));
                println!("{b}");
                eprintln!("job token again: {token}");
                println!("TERARCHITECT_ERROR=could not go on with {token}");
                i += 1;
            }
            "--fetch" => {
                match http("GET", &next, &[], "") {
                    Ok((status, body)) => {
                        println!("fetch {next}: {status} | {}", body.lines().next().unwrap_or_default())
                    }
                    Err(e) => println!("fetch {next}: error {e}"),
                }
                i += 2;
            }
            "--connect" => {
                // `proxy:PORT`: another port of the egress proxy's address (this host).
                let proxy_ip = std::env::var("HTTP_PROXY").unwrap_or_default();
                let proxy_ip = proxy_ip.trim_start_matches("http://").split(':').next().unwrap_or_default();
                let addr = next.replace("proxy:", &format!("{proxy_ip}:"));
                let addr = addr.parse().map_err(|e| format!("{e}"));
                match addr.and_then(|a| {
                    std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3)).map_err(|e| e.to_string())
                }) {
                    Ok(_) => println!("connect {next}: ok"),
                    Err(e) => println!("connect {next}: failed {e}"),
                }
                i += 2;
            }
            "--serve" => {
                let listener = std::net::TcpListener::bind(("0.0.0.0", next.parse().unwrap_or(8000))).expect("bind");
                println!("serving on {next}");
                std::io::stdout().flush().ok();
                for mut s in listener.incoming().flatten() {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf);
                    let body = "hello from the stand-in\n";
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            }
            "--say" => {
                println!("{next}");
                i += 2;
            }
            "--exit" => {
                code = next.parse().unwrap_or(1);
                i += 2;
            }
            other => {
                eprintln!("unknown argument {other}");
                i += 1;
            }
        }
    }
    std::io::stdout().flush().ok();
    std::process::exit(code);
}

/// The ticket title from `GET /agent/context`.
fn context() -> Result<String, String> {
    let body = request("GET", "agent/context", None)?;
    // The ticket object is the first one with a "title" field.
    body.split("\"ticket\":")
        .nth(1)
        .and_then(|t| field(t, "title"))
        .ok_or(format!("no ticket title in the reply: {}", body.lines().next().unwrap_or_default()))
}

/// The first string field `name` in `json`.
fn field(json: &str, name: &str) -> Option<String> {
    let value = json.split(&format!("\"{name}\":\"")).nth(1)?;
    value.split('"').next().map(str::to_owned)
}

/// One request to the API with the job token: the whole answer, head and body, when its
/// status is 2xx.
fn request(method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
    let base = std::env::var("TERARCHITECT_API_URL").map_err(|e| e.to_string())?;
    let token = std::env::var("TERARCHITECT_JOB_TOKEN").map_err(|e| e.to_string())?;
    let url = format!("{}/{path}", base.trim_end_matches('/'));
    let auth = format!("Authorization: Bearer {token}");
    let (status, reply) = http(method, &url, &[&auth, "Content-Type: application/json"], body.unwrap_or_default())?;
    if !status.split_whitespace().nth(1).is_some_and(|c| c.starts_with('2')) {
        return Err(format!("{status}: {reply}"));
    }
    Ok(reply)
}

/// One plain HTTP/1.1 request to an http:// URL, through `$HTTP_PROXY` when it is set (as
/// every agent container behind the egress proxy has it): (status line, body).
fn http(method: &str, url: &str, headers: &[&str], body: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// is supported")?;
    let (hostport, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let proxy = std::env::var("HTTP_PROXY").ok().filter(|p| !p.is_empty());
    let (connect_to, target) = match &proxy {
        Some(p) => (p.trim_start_matches("http://").trim_end_matches('/').to_string(), url.to_string()),
        None => (hostport.to_string(), format!("/{path}")),
    };
    // The proxy is down while its host restarts, and a request in flight when it died is
    // cut off: a real client retries, so does this one (its requests are idempotent).
    let mut tries = 0;
    loop {
        match http_once(method, &connect_to, &target, hostport, headers, body) {
            Ok(answer) => return Ok(answer),
            Err(e) if tries < 40 => {
                tries += 1;
                eprintln!("retrying {method} {url}: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    }
}

fn http_once(
    method: &str,
    connect_to: &str,
    target: &str,
    hostport: &str,
    headers: &[&str],
    body: &str,
) -> Result<(String, String), String> {
    let mut s = std::net::TcpStream::connect(connect_to).map_err(|e| format!("{connect_to}: {e}"))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {hostport}\r\n");
    for h in headers {
        head.push_str(&format!("{h}\r\n"));
    }
    write!(s, "{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let status = answer.lines().next().unwrap_or_default().to_string();
    if status.is_empty() {
        return Err("the connection closed without an answer".into());
    }
    Ok((status, answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()))
}
