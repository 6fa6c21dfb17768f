//! The page review notices link to: `GET /reviews/{id}` on the API's
//! address (`notify-webhook` builds `<gateway-url>/reviews/<id>`).
//!
//! The page itself holds no data and decides nothing: it is static HTML
//! whose script reads the review through the API with the browser's
//! session cookie (`GET /api/reviews/{id}`) and offers Approve / Reject /
//! Withdraw buttons that `POST` to the API with the `X-Requested-With`
//! header the API requires of cookie-authenticated changes. So the API's
//! role matrix applies unchanged (an approver outside the review's groups
//! sees "not found"), a link followed by a chat preview bot changes
//! nothing (GET never decides), and without a session the page offers the
//! single sign-on login, returning here afterwards.
//!
//! The id is checked to be a plain token before it is written into the
//! page, so the page cannot carry markup or script from the URL.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page's route, merged beside the API's.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/reviews/{id}", get(page))
}

fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn page(Path(id): Path<String>) -> Response {
    if !plain_id(&id) {
        return (StatusCode::NOT_FOUND, "no such review").into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE.replace("{{ID}}", &id),
    )
        .into_response()
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatehouse review {{ID}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.4 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}
dt{font-weight:600;margin-top:.5rem}dd{margin:0 0 0 1rem}pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap}
button{font:inherit;padding:.4rem 1rem;margin-right:.5rem}#msg{margin-top:1rem;font-weight:600}
</style></head>
<body>
<h1>Review <code>{{ID}}</code></h1>
<div id="body">Loading…</div>
<p><textarea id="comment" rows="2" cols="60" placeholder="Comment (optional)" hidden></textarea></p>
<p id="actions" hidden>
<button id="approve">Approve</button><button id="reject">Reject</button><button id="revoke">Withdraw / revoke</button>
</p>
<div id="msg"></div>
<script>
const id = "{{ID}}";
const api = "/api/reviews/" + id;
const $ = (x) => document.getElementById(x);
function text(v){ return v === null || v === undefined ? "" : String(v); }
function row(dl, k, v){ const dt=document.createElement("dt"); dt.textContent=k; const dd=document.createElement("dd");
  if (k === "Query") { const pre=document.createElement("pre"); pre.textContent=text(v); dd.appendChild(pre); } else { dd.textContent=text(v); }
  dl.appendChild(dt); dl.appendChild(dd); }
async function load(){
  const r = await fetch(api, {credentials: "same-origin"});
  if (r.status === 401) {
    $("body").innerHTML = "";
    const a = document.createElement("a"); a.href = "/auth/login?return_to=" + encodeURIComponent("/reviews/" + id);
    a.textContent = "Sign in to see this review"; $("body").appendChild(a); return;
  }
  if (!r.ok) { $("body").textContent = "This review does not exist or is not yours to see (" + r.status + ")."; return; }
  const v = await r.json();
  const dl = document.createElement("dl");
  row(dl, "State", v.state); row(dl, "Kind", v.kind); row(dl, "Connection", v.connection);
  row(dl, "Requested by", v.requester && v.requester.email); row(dl, "Reason", v.reason);
  row(dl, "Approver groups", (v.approver_groups || []).join(", "));
  if (v.duration_minutes) row(dl, "Access for", v.duration_minutes + " minutes");
  if (v.query) row(dl, "Query", v.query);
  for (const d of (v.decisions || [])) row(dl, d.approved ? "Approved by" : "Rejected by", text(d.approver && d.approver.email) + (d.comment ? " — " + d.comment : ""));
  $("body").innerHTML = ""; $("body").appendChild(dl);
  $("actions").hidden = $("comment").hidden = !(v.state === "pending" || v.state === "approved");
}
async function act(verb){
  const r = await fetch(api + "/" + verb, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Requested-With": "gatehouse-review-page"},
    body: verb === "revoke" ? "{}" : JSON.stringify({comment: $("comment").value})});
  let m = r.ok ? "Done." : "Refused (" + r.status + ")";
  if (!r.ok) { try { const e = await r.json(); m += ": " + text(e.error && e.error.message); } catch (_) {} }
  $("msg").textContent = m; load();
}
$("approve").onclick = () => act("approve"); $("reject").onclick = () => act("reject"); $("revoke").onclick = () => act("revoke");
load();
</script>
</body></html>
"#;

#[cfg(test)]
mod tests {
    use super::plain_id;

    #[test]
    fn only_plain_ids_reach_the_page() {
        assert!(plain_id("3f2a-9_b"));
        assert!(!plain_id("<script>"));
        assert!(!plain_id("a\"b"));
        assert!(!plain_id(""));
    }
}
