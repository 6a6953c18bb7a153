//! List routes are paged: walking every page by its `Link: rel="next"` header yields each
//! item exactly once, in order; a limit outside 1..=200 and a broken cursor are 400 JSON
//! errors; the lists sent whole (board, columns) are bounded by caps on what a project holds.

mod common;

use common::{Resp, TestApp};
use serde_json::{Value, json};

/// The `rel="next"` target of a response's `Link` header.
fn next_link(r: &Resp) -> Option<String> {
    let link = r.headers.get("link")?.to_str().unwrap();
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    Some(link.strip_prefix('<')?.split_once('>')?.0.to_string())
}

/// Every page of `path` with `limit`, each page checked to hold at most `limit` items.
async fn walk(t: &TestApp, path: &str, limit: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut next = Some(format!("{path}?limit={limit}"));
    while let Some(url) = next.take() {
        let r = t.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        next = next_link(&r);
        let items = r.body.as_array().expect("a page is a JSON array").clone();
        assert!(items.len() <= limit, "{url}: {} items", items.len());
        assert!(
            next.is_none() || items.len() == limit,
            "{url}: a short page before the last"
        );
        ids.extend(items.iter().map(|i| id_of(i).to_string()));
        pages += 1;
        assert!(pages < 100, "{path}: the pages never end");
    }
    (ids, pages)
}

/// The item's id (a review list item carries its ticket).
fn id_of(item: &Value) -> &str {
    item["id"].as_str().or_else(|| item["ticket"]["id"].as_str()).unwrap()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| id_of(i).to_string()).collect()
}

#[tokio::test]
async fn every_list_walks_page_by_page_each_item_once_in_order() {
    let t = TestApp::new().await;
    let mut projects = Vec::new();
    for i in 0..7 {
        projects.push(t.project(&format!("p{i}")).await);
    }
    let pid = projects[0]["id"].as_str().unwrap().to_string();
    let (walked, pages) = walk(&t, "/api/projects", 3).await;
    assert_eq!((walked, pages), (ids(&projects), 3));

    let mut notes = Vec::new();
    for i in 0..7 {
        notes.push(
            t.post(&format!("/api/projects/{pid}/notes"), json!({"body": format!("n{i}")}))
                .await
                .ok(),
        );
    }
    let (walked, pages) = walk(&t, &format!("/api/projects/{pid}/notes"), 2).await;
    assert_eq!((walked, pages), (ids(&notes), 4));
    // An exact multiple of the limit: the last full page says no more follows.
    let (walked, pages) = walk(&t, &format!("/api/projects/{pid}/notes"), 7).await;
    assert_eq!((walked, pages), (ids(&notes), 1));

    let ticket = t.ticket(&pid, "paged").await;
    let tid = ticket["id"].as_str().unwrap();
    let comments_path = format!("/api/projects/{pid}/tickets/{tid}/comments");
    let mut comments = Vec::new();
    for i in 0..5 {
        comments.push(t.post(&comments_path, json!({"body": format!("c{i}")})).await.ok());
    }
    let (walked, _) = walk(&t, &comments_path, 2).await;
    assert_eq!(walked, ids(&comments));

    // Each move into In Progress queues a new run; moving back cancels it.
    let mut jobs = Vec::new();
    for _ in 0..5 {
        jobs.push(t.move_to(&pid, tid, "in_progress").await.ok()["job"]["id"].clone());
        t.move_to(&pid, tid, "backlog").await.ok();
    }
    let mut newest_first: Vec<String> = jobs.iter().map(|j| j.as_str().unwrap().to_string()).collect();
    newest_first.reverse();
    let (walked, pages) = walk(&t, &format!("/api/projects/{pid}/tickets/{tid}/jobs"), 2).await;
    assert_eq!((walked, pages), (newest_first, 3));

    // The review list: tickets in In Review with a PR (GitHub is not configured, so each
    // item carries its error; the paging is what is under test).
    let mut reviewed = Vec::new();
    for i in 0..5 {
        let tk = t.ticket(&pid, &format!("r{i}")).await;
        let id = tk["id"].as_str().unwrap();
        t.move_to(&pid, id, "in_review").await.ok();
        sqlx::query("UPDATE tickets SET pr_number = $2, pr_url = 'https://example.com/pr' WHERE id = $1::uuid")
            .bind(id)
            .bind(i64::from(i) + 1)
            .execute(&t.app.db)
            .await
            .unwrap();
        reviewed.push(tk);
    }
    let (walked, pages) = walk(&t, &format!("/api/projects/{pid}/review"), 2).await;
    assert_eq!((walked, pages), (ids(&reviewed), 3));
}

#[tokio::test]
async fn rows_changed_between_pages_neither_repeat_nor_hide_others() {
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let mut notes = Vec::new();
    for i in 0..4 {
        notes.push(
            t.post(&format!("/api/projects/{pid}/notes"), json!({"body": format!("n{i}")}))
                .await
                .ok(),
        );
    }
    let first = t.get(&format!("/api/projects/{pid}/notes?limit=2")).await;
    assert_eq!(ids(first.body.as_array().unwrap()), ids(&notes[..2]));
    let next = next_link(&first).expect("a second page");
    // A note of the first page deleted and one added meanwhile: an offset would now skip
    // n2; the cursor continues after n1.
    assert_eq!(
        t.delete(&format!("/api/projects/{pid}/notes/{}", id_of(&notes[0])))
            .await
            .status,
        204
    );
    notes.push(
        t.post(&format!("/api/projects/{pid}/notes"), json!({"body": "late"}))
            .await
            .ok(),
    );
    let mut rest = Vec::new();
    let mut url = Some(next);
    while let Some(u) = url.take() {
        let r = t.get(&u).await;
        assert_eq!(r.status, 200, "{}", r.body);
        url = next_link(&r);
        rest.extend(ids(r.body.as_array().unwrap()));
    }
    assert_eq!(rest, ids(&notes[2..]));
}

#[tokio::test]
async fn limits_out_of_range_and_broken_cursors_are_json_400s() {
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let tid = t.ticket(&pid, "t").await["id"].as_str().unwrap().to_string();
    let lists = [
        "/api/projects".to_string(),
        format!("/api/projects/{pid}/notes"),
        format!("/api/projects/{pid}/tickets/{tid}/comments"),
        format!("/api/projects/{pid}/tickets/{tid}/jobs"),
        format!("/api/projects/{pid}/review"),
    ];
    let not_a_cursor = base64_url("12.not-a-uuid");
    for path in &lists {
        assert_eq!(t.get(&format!("{path}?limit=200")).await.status, 200, "{path}");
        for (query, field) in [
            ("limit=201", "limit"),
            ("limit=0", "limit"),
            ("limit=-3", "limit"),
            ("cursor=%%%", "cursor"),
            ("cursor=", "cursor"),
            ("cursor=bm9wZQ", "cursor"),
            (&*format!("cursor={not_a_cursor}"), "cursor"),
        ] {
            let r = t.get(&format!("{path}?{query}")).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (400, "invalid_input"),
                "{path}?{query}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["field"], field, "{path}?{query}");
        }
        let r = t.get(&format!("{path}?limit=ten")).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_query"), "{path}");
    }
    // The job log pages by sequence number, up to 1000 events a page.
    let job = t.move_to(&pid, &tid, "in_progress").await.ok()["job"]["id"].clone();
    let job = job.as_str().unwrap();
    let events = format!("/api/projects/{pid}/jobs/{job}/events");
    assert_eq!(t.get(&format!("{events}?limit=1000")).await.status, 200);
    for bad in ["1001", "0"] {
        let r = t.get(&format!("{events}?limit={bad}")).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_input"),
            "{bad}: {}",
            r.body
        );
    }
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn a_project_holds_a_bounded_number_of_tickets_and_columns() {
    use terarchitect_functions::domain::{columns::MAX_COLUMNS, tickets::MAX_TICKETS};
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let backlog = t.column(&pid, "backlog").await;
    // Fill the project up to the cap (it already has its setup ticket) without 5,000 requests.
    sqlx::query(
        "INSERT INTO tickets (id, project_id, column_id, position, title) \
         SELECT gen_random_uuid(), $1::uuid, $2::uuid, \
                (SELECT count(*) FROM tickets WHERE column_id = $2::uuid) + n - 1, 'bulk ' || n \
         FROM generate_series(1, $3) n",
    )
    .bind(&pid)
    .bind(&backlog)
    .bind(MAX_TICKETS - 1)
    .execute(&t.app.db)
    .await
    .unwrap();
    let r = t
        .post(
            &format!("/api/projects/{pid}/tickets"),
            json!({"title": "one too many"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"), "{}", r.body);
    let board = t.board(&pid).await;
    let on_board: usize = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tickets"].as_array().unwrap().len())
        .sum();
    assert_eq!(on_board as i64, MAX_TICKETS);

    for i in 4..MAX_COLUMNS {
        let c = t
            .post(
                &format!("/api/projects/{pid}/columns"),
                json!({"title": format!("c{i}")}),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.body);
    }
    let r = t
        .post(
            &format!("/api/projects/{pid}/columns"),
            json!({"title": "one too many"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"), "{}", r.body);
    let cols = t.get(&format!("/api/projects/{pid}/columns")).await.ok();
    assert_eq!(cols.as_array().unwrap().len(), MAX_COLUMNS as usize);
}

#[tokio::test]
async fn patches_cannot_grow_the_graph_past_its_cap() {
    use terarchitect_protocol::validate::MAX_GRAPH_ITEMS;
    let t = TestApp::new().await;
    let pid = t.project("p").await["id"].as_str().unwrap().to_string();
    let nodes = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"id": uuid::Uuid::new_v4(), "label": format!("n{i}")}))
            .collect()
    };
    let graph = format!("/api/projects/{pid}/graph");
    let r = t.patch(&graph, json!({"nodes": nodes(MAX_GRAPH_ITEMS)})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = t.patch(&graph, json!({"nodes": nodes(1)})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"), "{}", r.body);
    assert_eq!(
        t.get(&graph).await.ok()["nodes"].as_array().unwrap().len(),
        MAX_GRAPH_ITEMS
    );
}
