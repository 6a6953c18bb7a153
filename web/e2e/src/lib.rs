//! Harness for the browser end-to-end tests: a fresh Postgres database and an SQS queue on
//! the emulator (the root test kit's `TestDb` and `TestQueue`), the real `api` (serving the
//! built UI) and `worker-api` binaries started as `./dev up` starts them (the stack crate,
//! through the test kit), and a headless Chromium driven through chromedriver. Every
//! process runs in its own process group and is killed with it on drop, so a failing test
//! leaves nothing behind.
//!
//! Environment: `TERARCHITECT_TEST_PG_URL` (admin URL), `TERARCHITECT_TEST_SQS_URL`
//! (moto), `TERARCHITECT_BIN_DIR` (where `api`, `worker-api`, `migrate`, `admin` are;
//! default `/var/cache/terarchitect/target/debug`), `WEB_DIST` (default `../dist`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fantoccini::actions::{ActionSequence, InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
pub use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use terarchitect_testkit::process::ProcessGroup;
pub use terarchitect_testkit::stack::free_port;
use terarchitect_testkit::stack::functions::{Functions, Holder, spawn};
use terarchitect_testkit::stack::{Env, Log, wait_http};
pub use terarchitect_testkit::try_eventually;
use terarchitect_testkit::{TestDb, TestQueue};

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn bin_dir() -> PathBuf {
    std::env::var_os("TERARCHITECT_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/terarchitect/target/debug"))
}

pub fn dist_dir() -> PathBuf {
    std::env::var_os("WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist"))
}

pub fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&d).expect("artifacts dir");
    d
}

/// A running stack: database, queue, API with the UI, worker API.
pub struct Stack {
    pub base: String,
    pub worker_base: String,
    pub token: String,
    pub worker_token: String,
    /// The job queue the API sends to.
    pub queue: TestQueue,
    pub http: reqwest::Client,
    db: TestDb,
    _procs: Vec<ProcessGroup>,
}

/// Runs `test` against a fresh stack and browser: on failure the page is saved as
/// `failure-{name}.png`; both are cleaned up either way.
pub async fn in_browser(name: &str, test: impl AsyncFnOnce(&Stack, &Browser) -> Res<()>) -> Res<()> {
    let s = Stack::start().await?;
    let b = Browser::start().await?;
    let r = test(&s, &b).await;
    if r.is_err() {
        let _ = b.screenshot(&format!("failure-{name}.png")).await;
    }
    b.close().await;
    s.cleanup().await;
    r
}

impl Stack {
    pub async fn start() -> Res<Stack> {
        let db = TestDb::new().await;
        let queue = TestQueue::new().await;
        let http = reqwest::Client::new();

        let env = Env::functions(&db.url, &queue.url, &queue.endpoint, SECRET_KEY).set("RUST_LOG", "warn");
        let functions = Functions::new(bin_dir(), env);
        functions.migrate()?;
        let token = functions.mint_test_token("e2e-user", Holder::User)?;
        // The browser tests play this host: their claims name it.
        let worker_token = functions.mint_test_token("e2e-worker", Holder::Host("e2e-host"))?;

        let logs = artifacts();
        let api_port = free_port();
        let api_log = Log::File(logs.join(format!("api-{api_port}.log")));
        let api = functions.api(&format!("127.0.0.1:{api_port}"), Some(&dist_dir()), &api_log)?;
        let worker_port = free_port();
        let worker_log = Log::File(logs.join(format!("worker-api-{worker_port}.log")));
        let worker = functions.worker_api(&format!("127.0.0.1:{worker_port}"), &worker_log)?;

        let stack = Stack {
            base: format!("http://127.0.0.1:{api_port}"),
            worker_base: format!("http://127.0.0.1:{worker_port}"),
            token,
            worker_token,
            queue,
            http,
            db,
            _procs: vec![api, worker],
        };
        for url in [
            format!("{}/api/health", stack.base),
            format!("{}/worker/health", stack.worker_base),
        ] {
            wait_http(&url, None, Duration::from_secs(30), Duration::from_secs(30), |_| true).await?;
        }
        Ok(stack)
    }

    /// A UI API call with the user token; errors on non-2xx.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Res<Value> {
        self.call(&self.base, &self.token, method, path, body).await
    }

    pub async fn call(&self, base: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> Res<Value> {
        let m = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut r = self.http.request(m, format!("{base}{path}")).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {text}").into());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stops the processes and drops the test database (best effort).
    pub async fn cleanup(self) {
        let Stack { db, _procs, .. } = self;
        drop(_procs);
        db.drop_database().await;
    }
}

/// Headless Chromium through its own chromedriver.
pub struct Browser {
    pub client: Client,
    _driver: ProcessGroup,
}

impl Browser {
    pub async fn start() -> Res<Browser> {
        let port = free_port();
        let mut cmd = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()));
        cmd.arg(format!("--port={port}"));
        let driver = spawn(cmd, &Env::default(), &Log::Null)?;
        let http = reqwest::Client::new();
        let status = format!("http://127.0.0.1:{port}/status");
        try_eventually("chromedriver", Duration::from_secs(30), || {
            let http = http.clone();
            let status = status.clone();
            async move {
                let v: Value = http.get(&status).send().await.ok()?.json().await.ok()?;
                v["value"]["ready"].as_bool().filter(|r| *r)
            }
        })
        .await?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,900"
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await?;
        Ok(Browser {
            client,
            _driver: driver,
        })
    }

    pub async fn wait_for(&self, css: &str) -> Res<fantoccini::elements::Element> {
        let c = &self.client;
        let el = try_eventually(&format!("element {css}"), Duration::from_secs(20), || async move {
            c.find(Locator::Css(css)).await.ok()
        })
        .await?;
        Ok(el)
    }

    /// Waits until a script (a function body returning a value) returns something truthy.
    pub async fn wait_js(&self, what: &str, script: &str) -> Res<Value> {
        let c = &self.client;
        let v = try_eventually(what, Duration::from_secs(20), || async move {
            match c.execute(script, vec![]).await {
                Ok(v) if !(v.is_null() || v == Value::Bool(false)) => Some(v),
                _ => None,
            }
        })
        .await?;
        Ok(v)
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Res<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    pub async fn click(&self, css: &str) -> Res<()> {
        self.wait_for(css).await?.click().await?;
        Ok(())
    }

    /// Performs the pointer `steps` with Shift held throughout (shift-click, shift-drag).
    pub async fn with_shift(&self, steps: Vec<PointerAction>) -> Res<()> {
        const SHIFT: char = '\u{E008}';
        let pause = || KeyAction::Pause {
            duration: Duration::ZERO,
        };
        let mut keys = KeyActions::new("keys".into()).then(KeyAction::Down { value: SHIFT });
        let mut pointer = MouseActions::new("mouse".into()).then(PointerAction::Pause {
            duration: Duration::ZERO,
        });
        for step in steps {
            keys = keys.then(pause());
            pointer = pointer.then(step);
        }
        keys = keys.then(KeyAction::Up { value: SHIFT });
        pointer = pointer.then(PointerAction::Pause {
            duration: Duration::ZERO,
        });
        self.client
            .perform_actions(vec![keys.into(), pointer.into()] as Vec<ActionSequence>)
            .await?;
        self.client.release_actions().await?;
        Ok(())
    }

    /// Replaces the value of the input or textarea `css` with `text`.
    pub async fn type_into(&self, css: &str, text: &str) -> Res<()> {
        let el = self.wait_for(css).await?;
        el.clear().await?;
        el.send_keys(text).await?;
        Ok(())
    }

    /// Drags the board card `card` (a CSS selector) into the column whose role is
    /// `column_role`, with the HTML5 drag events a user's drag fires.
    pub async fn drag_card(&self, card: &str, column_role: &str) -> Res<()> {
        self.js(
            r#"
            const [card, list] = [document.querySelector(arguments[0]), document.querySelector(arguments[1])];
            const dt = new DataTransfer();
            const r = list.getBoundingClientRect();
            const ev = (type, x, y) => new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt, clientX: x, clientY: y});
            card.dispatchEvent(ev('dragstart', 0, 0));
            list.dispatchEvent(ev('dragenter', r.left + 20, r.top + 20));
            list.dispatchEvent(ev('dragover', r.left + 20, r.top + 20));
            list.dispatchEvent(ev('drop', r.left + 20, r.top + 20));
            card.dispatchEvent(ev('dragend', 0, 0));
            "#,
            vec![
                Value::from(card),
                Value::from(format!(".column[data-role=\"{column_role}\"] .column-list")),
            ],
        )
        .await?;
        Ok(())
    }

    /// Signs in with the stack's user token without the sign-in form.
    pub async fn sign_in(&self, s: &Stack) -> Res<()> {
        self.client.goto(&s.base).await?;
        self.js(
            "sessionStorage.setItem('terarchitect.token', arguments[0])",
            vec![json!(s.token)],
        )
        .await?;
        Ok(())
    }

    pub async fn text_of(&self, css: &str) -> Res<String> {
        Ok(self.wait_for(css).await?.text().await?)
    }

    pub async fn screenshot(&self, name: &str) -> Res<()> {
        let png = self.client.screenshot().await?;
        std::fs::write(artifacts().join(name), png)?;
        Ok(())
    }

    pub async fn close(self) {
        let Browser { client, _driver } = self;
        let _ = client.close().await;
    }
}
