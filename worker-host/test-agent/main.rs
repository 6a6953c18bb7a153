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

/// One plain HTTP/1.1 request to the API with the job token (the API is http:// in
/// tests): the whole answer, head and body, when its status is 2xx.
fn request(method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
    let base = std::env::var("TERARCHITECT_API_URL").map_err(|e| e.to_string())?;
    let token = std::env::var("TERARCHITECT_JOB_TOKEN").map_err(|e| e.to_string())?;
    let rest = base.strip_prefix("http://").ok_or("only http:// is supported")?;
    let (hostport, prefix) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let mut s = std::net::TcpStream::connect(hostport).map_err(|e| e.to_string())?;
    let host = hostport.split(':').next().unwrap_or(hostport);
    let path = format!("/{}{}{path}", prefix, if prefix.is_empty() || prefix.ends_with('/') { "" } else { "/" });
    let body = body.unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let status = answer.lines().next().unwrap_or_default().to_string();
    if !status.split_whitespace().nth(1).is_some_and(|c| c.starts_with('2')) {
        return Err(format!("{status}: {}", answer.split("\r\n\r\n").nth(1).unwrap_or_default()));
    }
    Ok(answer)
}
