use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::log_page::poll_while;
use super::model::{AttemptView, DeliveryDetail};
use super::{get_delivery, CheckSignature, ResendDelivery};
use crate::components::{format_duration_ms, format_time, ErrorNotice, StatusBadge};
use crate::error::AppError;

#[component]
pub fn DeliveryDetailPage() -> impl IntoView {
    let params = use_params_map();
    let ids = move || {
        params.with(|p| {
            (
                p.get("id")
                    .and_then(|s| s.parse::<crate::domain::WebhookId>().ok()),
                p.get("delivery_id").unwrap_or_default(),
            )
        })
    };
    let resend = ServerAction::<ResendDelivery>::new();
    let refresh = RwSignal::new(0u64);
    let detail = Resource::new(
        move || (ids(), resend.version().get(), refresh.get()),
        |((id, delivery_id), _, _)| async move {
            match id {
                Some(id) => get_delivery(id, delivery_id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    poll_while(
        move || detail.with_untracked(|d| matches!(d, Some(Ok(d)) if d.delivery.is_pending())),
        refresh,
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <DetailView d=d resend=resend/> }.into_any(),
                    Err(e) => view! {
                        <Title text="Delivery · SchedulingKit"/>
                        <ErrorNotice error=e missing="delivery"/>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DetailView(d: DeliveryDetail, resend: ServerAction<ResendDelivery>) -> impl IntoView {
    let log = format!("/settings/webhooks/{}/deliveries", d.webhook_id);
    let row = d.delivery.clone();
    let button = if row.in_flight {
        None
    } else if row.status == "scheduled" {
        Some("Send now")
    } else if row.is_pending() {
        Some("Retry now")
    } else {
        Some("Redeliver")
    };
    let request_headers = d
        .attempts
        .first()
        .map(|a| a.request_headers.clone())
        .unwrap_or_default();
    let timestamp = request_headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("webhook-timestamp"))
        .map(|(_, v)| v.clone());
    let message = move || {
        resend
            .value()
            .get()
            .map(|r| r.unwrap_or_else(|e| e.to_string()))
    };
    let delivery_id = row.id.clone();
    view! {
        <Title text=format!("Delivery {} · SchedulingKit", row.id)/>
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <a href="/settings/webhooks">"Webhooks"</a>
            " / "
            <a href=format!("/settings/webhooks/{}/edit", d.webhook_id)>{d.webhook_name.clone()}</a>
            " / "
            <a href=log.clone()>"Deliveries"</a>
        </nav>
        <div class="page-head">
            <h1><code>{row.event_type.clone()}</code> <StatusBadge row=row.clone()/></h1>
            {button.map(|label| view! {
                <ActionForm action=resend>
                    <input type="hidden" name="webhook_id" value=d.webhook_id.to_string()/>
                    <input type="hidden" name="delivery_id" value=delivery_id.clone()/>
                    <button type="submit" class="primary" disabled=move || resend.pending().get()>{label}</button>
                </ActionForm>
            })}
        </div>
        <p class="notice-line" aria-live="polite">{message}</p>
        <section class="card">
            <dl class="facts">
                <dt>"Delivery id"</dt><dd><code data-testid="delivery-id">{row.id.clone()}</code></dd>
                <dt>"Event id"</dt><dd><code>{d.event_id.clone()}</code></dd>
                <dt>"Created"</dt><dd>{format_time(row.created_at)}</dd>
                {row.deliver_at.map(|t| view! { <dt>"Scheduled for"</dt><dd>{format_time(t)}</dd> })}
                {row.key.clone().map(|k| view! {
                    <dt>"Key"</dt>
                    <dd><code>{k}</code>{row.sequence.map(|s| view! { " · sequence " {s} })}</dd>
                })}
                <dt>"Attempts"</dt><dd>{row.attempts}</dd>
                <dt>"URL"</dt><dd><code>{d.url.clone()}</code></dd>
            </dl>
        </section>
        <section class="card">
            <h2>"Request"</h2>
            <p class="hint">"POST " <code>{d.url.clone()}</code>
                {if request_headers.is_empty() { " — not sent yet." } else { " — headers of the latest attempt (the signatures are recomputed for every attempt)." }}</p>
            <HeaderTable headers=request_headers/>
            <h3>"Body"</h3>
            <pre class="body" data-testid="request-body">{d.body_pretty.clone()}</pre>
        </section>
        <SignatureChecker
            webhook_id=d.webhook_id
            delivery_id=row.id.clone()
            body=d.body_raw.clone()
            timestamp=timestamp/>
        <section class="card">
            <h2>"Attempts"</h2>
            {if d.attempts.is_empty() {
                view! { <p class="hint">"No attempt yet."</p> }.into_any()
            } else {
                d.attempts.into_iter().map(|a| view! { <AttemptCard a=a/> }).collect_view().into_any()
            }}
        </section>
    }
}

#[component]
fn HeaderTable(headers: Vec<(String, String)>) -> impl IntoView {
    (!headers.is_empty()).then(|| {
        view! {
            <table class="headers">
                <tbody>
                    {headers
                        .into_iter()
                        .map(|(k, v)| view! { <tr><th scope="row"><code>{k}</code></th><td><code>{v}</code></td></tr> })
                        .collect_view()}
                </tbody>
            </table>
        }
    })
}

#[component]
fn AttemptCard(a: AttemptView) -> impl IntoView {
    let ok = a.error_kind.is_none();
    let outcome = match (a.response_status, &a.error_kind) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(kind)) => format!("{kind} error"),
        (None, None) => String::new(),
    };
    view! {
        <article class=if ok { "attempt ok" } else { "attempt failed" } data-attempt=a.number.to_string()>
            <header>
                <strong>{format!("#{}", a.number)}</strong>
                {(a.trigger == "manual").then(|| view! { <span class="chip">"manual"</span> })}
                <span class="outcome-text">{outcome}</span>
                <span class="hint">{format_time(a.started_at)} " · " {format_duration_ms(a.duration_ms.into())}</span>
            </header>
            {a.error_message.clone().map(|m| view! { <p class="error-text">{m}</p> })}
            {(!a.response_headers.is_empty()).then(|| view! {
                <details>
                    <summary>"Response headers"</summary>
                    <HeaderTable headers=a.response_headers.clone()/>
                </details>
            })}
            {a.response_body.clone().filter(|b| !b.is_empty()).map(|b| view! {
                <h3 class="response-body">"Response body"</h3>
                <pre class="body">{b}</pre>
            })}
        </article>
    }
}

/// The exact content each scheme signs, which key each takes, and a box for what the
/// receiver's server computed: the server says whether it is right or which usual mistake
/// explains it (a plain form: without JavaScript the verdict comes back in the query).
#[component]
fn SignatureChecker(
    webhook_id: crate::domain::WebhookId,
    delivery_id: String,
    body: String,
    timestamp: Option<String>,
) -> impl IntoView {
    use crate::domain::signature_check::{Scheme, Verdict};
    let check = ServerAction::<CheckSignature>::new();
    let query = use_query_map();
    let from_query = query.with_untracked(|q| {
        let verdict = q.get("check").and_then(|c| Verdict::from_code(&c))?;
        let scheme = Scheme::parse(&q.get("scheme").unwrap_or_default())?;
        Some(verdict.message(scheme).to_string())
    });
    let result = move || match check.value().get() {
        Some(Ok(c)) => Some(Ok(c.message)),
        Some(Err(e)) => Some(Err(e
            .fields()
            .and_then(|f| {
                f.get("computed")
                    .or_else(|| f.get("scheme"))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| e.to_string()))),
        None => from_query.clone().map(Ok),
    };
    let ts = timestamp
        .clone()
        .unwrap_or_else(|| "{webhook-timestamp}".to_string());
    let standard_content = format!("{delivery_id}.{ts}.{body}");
    view! {
        <section class="card" aria-labelledby="sigcheck-title">
            <h2 id="sigcheck-title">"Check a signature"</h2>
            <h3><code>"X-Webhook-Signature"</code></h3>
            <p class="hint">"Lowercase hex HMAC-SHA256 of exactly these bytes (the raw body), keyed with the " <strong>"whole secret string"</strong> " as shown, " <code>"whsec_"</code> " included:"</p>
            <pre class="body" data-testid="signed-seed">{body.clone()}</pre>
            <h3><code>"webhook-signature"</code> " (Standard Webhooks)"</h3>
            <p class="hint">"v1, then the base64 HMAC-SHA256 of exactly these bytes (" <code>"webhook-id.webhook-timestamp.body"</code>
                {if timestamp.is_some() { ", with the latest attempt's timestamp" } else { "; nothing was sent yet" }}
                "), keyed with the " <strong>"base64-decoded bytes"</strong> " of the part after " <code>"whsec_"</code> ":"</p>
            <pre class="body" data-testid="signed-standard">{standard_content}</pre>
            <ActionForm action=check>
                <input type="hidden" name="webhook_id" value=webhook_id.to_string()/>
                <input type="hidden" name="delivery_id" value=delivery_id.clone()/>
                <fieldset>
                    <legend>"Which header"</legend>
                    <label><input type="radio" name="scheme" value="seed" checked=true/> " X-Webhook-Signature"</label>
                    <label><input type="radio" name="scheme" value="standard"/> " webhook-signature"</label>
                </fieldset>
                <label for="sig-computed">"Paste what your server computed"</label>
                <input id="sig-computed" type="text" name="computed" autocomplete="off" spellcheck="false"
                    aria-describedby="sig-result"/>
                <button type="submit" class="small">"Check"</button>
            </ActionForm>
            <div id="sig-result" aria-live="polite" data-testid="signature-verdict">
                {move || result().map(|r| match r {
                    Ok(m) => view! { <p class="outcome">{m}</p> }.into_any(),
                    Err(m) => view! { <p class="field-error" role="alert">{m}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}
