use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::fields::WebhookFields;
use super::{
    get_test_outcome, get_webhook, preview_request, reveal_secret, DeleteWebhook, EnableWebhook,
    RotateSecret, SendTestEvent, TestOutcome, UpdateWebhook, WebhookDetail,
};
use crate::components::{errors_of, format_duration_ms, format_time, ErrorNotice, FormError};
use crate::deliveries::DeliveryChart;
use crate::domain::WebhookInput;
use crate::error::AppError;

#[component]
pub fn EditWebhookPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|s| s.parse::<crate::domain::WebhookId>().ok())
        })
    };
    let reveal = query.with_untracked(|q| q.get("reveal").is_some());
    let earlier_test = query.with_untracked(|q| q.get("test"));

    let update = ServerAction::<UpdateWebhook>::new();
    let rotate = ServerAction::<RotateSecret>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let test = ServerAction::<SendTestEvent>::new();
    let enable = ServerAction::<EnableWebhook>::new();

    let webhook = Resource::new(
        move || (id(), rotate.version().get(), enable.version().get()),
        move |(id, _, _)| async move {
            match id {
                Some(id) => get_webhook(id, reveal).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    let earlier = Resource::new(
        move || (id(), earlier_test.clone()),
        |(id, delivery)| async move {
            match (id, delivery) {
                (Some(id), Some(delivery_id)) => get_test_outcome(id, delivery_id).await.ok(),
                _ => None,
            }
        },
    );

    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let earlier = earlier.await;
                match webhook.await {
                    Ok(w) => view! {
                        <EditView w=w update=update rotate=rotate delete=delete test=test enable=enable earlier=earlier/>
                    }
                    .into_any(),
                    Err(e) => view! {
                        <Title text="Webhook · SchedulingKit"/>
                        <ErrorNotice error=e/>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EditView(
    w: WebhookDetail,
    update: ServerAction<UpdateWebhook>,
    rotate: ServerAction<RotateSecret>,
    delete: ServerAction<DeleteWebhook>,
    test: ServerAction<SendTestEvent>,
    enable: ServerAction<EnableWebhook>,
    earlier: Option<TestOutcome>,
) -> impl IntoView {
    let errors = errors_of(update);
    let initial = errors.with_untracked(|e| {
        if e.echo.is_empty() {
            w.to_input()
        } else {
            WebhookInput::from_echo(e)
        }
    });
    let id = w.id;
    view! {
        <Title text=format!("{} · Webhooks · SchedulingKit", w.name)/>
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <a href="/settings/webhooks">"Webhooks"</a>
            " / " {w.name.clone()}
        </nav>
        <div class="page-head">
            <h1>{w.name.clone()}
                <super::state_badge::WebhookStateBadge
                    active=w.active
                    disabled_reason=w.disabled_reason.clone()/>
            </h1>
            <a class="button" href=format!("/settings/webhooks/{id}/deliveries")>"Delivery log"</a>
        </div>
        {(!w.active && (w.disabled_at.is_some() || w.held_count > 0)).then(|| view! {
            <ReenableNotice
                id=id
                disabled_at=w.disabled_at
                disabled_reason=w.disabled_reason.clone()
                held_count=w.held_count
                enable=enable/>
        })}
        <div class="edit-layout">
            <div class="main-column">
            <section class="card" aria-labelledby="activity-title">
                <h2 id="activity-title">"Last 24 hours"</h2>
                <DeliveryChart buckets=w.hourly.clone()/>
                {(w.scheduled > 0).then(|| view! {
                    <p data-testid="scheduled-count">
                        <a href=format!("/settings/webhooks/{id}/deliveries?status=scheduled")>
                            {if w.scheduled == 1 { "1 delivery is".to_string() } else { format!("{} deliveries are", w.scheduled) }}
                        </a>
                        " scheduled for later."
                    </p>
                })}
                <p class="hint"><a href=format!("/settings/webhooks/{id}/deliveries")>"Open the delivery log →"</a></p>
            </section>
            <section class="card" aria-labelledby="settings-title">
                <h2 id="settings-title">"Settings"</h2>
                <ActionForm action=update>
                    <input type="hidden" name="id" value=id.to_string()/>
                    <FormError errors=errors/>
                    <WebhookFields initial=initial errors=errors/>
                    <div class="actions">
                        <button type="submit" class="primary" disabled=move || update.pending().get()>
                            {move || if update.pending().get() { "Saving…" } else { "Save changes" }}
                        </button>
                        <a class="button" href="/settings/webhooks">"Cancel"</a>
                    </div>
                </ActionForm>
                <p class="meta">"Created " {format_time(w.created_at)} " · updated " {format_time(w.updated_at)}</p>
            </section>
            {(!w.filter.is_empty()).then(|| view! { <FilterPreview checks=w.filter_preview.clone()/> })}
            <RequestPreviewPanel id=id/>
            </div>
            <aside class="side">
                <TestPanel id=id test=test earlier=earlier events=w.events.clone()/>
                <SecretPanel w=w.clone() rotate=rotate/>
                <section class="card danger-zone" aria-labelledby="delete-title">
                    <h2 id="delete-title">"Delete"</h2>
                    <details>
                        <summary>"Delete this webhook…"</summary>
                        <p>"The webhook and its delivery log are removed and nothing more is sent to it. This cannot be undone."</p>
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=id.to_string()/>
                            <button type="submit" class="danger">"Yes, delete this webhook"</button>
                        </ActionForm>
                    </details>
                </section>
            </aside>
        </div>
    }
}

#[component]
fn TestPanel(
    id: crate::domain::WebhookId,
    test: ServerAction<SendTestEvent>,
    earlier: Option<TestOutcome>,
    /// The types it subscribes to: a test can send any of them too.
    events: Vec<String>,
) -> impl IntoView {
    let result = move || test.value().get().or_else(|| earlier.clone().map(Ok));
    let options = events
        .into_iter()
        .map(|e| view! { <option value=e.clone()>{e.clone()}</option> })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="test-title">
            <h2 id="test-title">"Send test event"</h2>
            <p class="hint">"Sends the " <a href="/settings/event-types">"catalog's example"</a>
                " of the type you pick to this webhook only, in its format and signed like every other event (its "
                <code>"data"</code> " has " <code>"\"test\": true"</code> ")."</p>
            <ActionForm action=test>
                <input type="hidden" name="id" value=id.to_string()/>
                <div class="field">
                    <label for="test-event">"Event type"</label>
                    <select id="test-event" name="event">
                        <option value="webhook.test" selected>"webhook.test"</option>
                        {options}
                    </select>
                </div>
                <button type="submit" disabled=move || test.pending().get()>
                    {move || if test.pending().get() { "Sending…" } else { "Send test event" }}
                </button>
            </ActionForm>
            <div class="test-result" aria-live="polite">
                {move || result().map(|r| view! { <OutcomeView result=r/> })}
            </div>
        </section>
    }
}

#[component]
fn OutcomeView(result: Result<TestOutcome, AppError>) -> impl IntoView {
    match result {
        Err(e) => view! { <p class="outcome failed" role="alert">{e.to_string()}</p> }.into_any(),
        Ok(o) if !o.finished => view! {
            <p class="outcome pending">"Sent; no answer yet. The delivery continues in the background."</p>
        }
        .into_any(),
        Ok(o) => {
            let class = if o.succeeded { "outcome succeeded" } else { "outcome failed" };
            let status = o.status_code.map(|c| c.to_string()).unwrap_or_default();
            let duration = o.duration_ms.map(|d| format_duration_ms(d.into())).unwrap_or_default();
            let headline = match (o.succeeded, o.status_code) {
                (true, Some(code)) => format!("✓ Delivered: HTTP {code}"),
                (false, Some(code)) => format!("✗ Failed: HTTP {code}"),
                (_, None) => "✗ Failed".to_string(),
            };
            view! {
                <div class=class data-status=status>
                    <p class="headline">{headline} <span class="duration">" in " {duration}</span></p>
                    {o.error.filter(|_| o.status_code.is_none()).map(|e| view! { <p class="error-text">{e}</p> })}
                    {o.retry_at.map(|t| view! { <p class="hint">"Next retry at " {format_time(t)}</p> })}
                    <p class="hint">"Delivery " <code>{o.delivery_id}</code></p>
                </div>
            }
            .into_any()
        }
    }
}

#[component]
fn SecretPanel(w: WebhookDetail, rotate: ServerAction<RotateSecret>) -> impl IntoView {
    let id = w.id;
    let masked = w.secret_masked.clone();
    let shown = RwSignal::new(w.secret.clone());
    let copied = RwSignal::new(false);
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));

    let toggle = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        if shown.get_untracked().is_some() {
            shown.set(None);
        } else {
            leptos::task::spawn_local(async move {
                if let Ok(s) = reveal_secret(id).await {
                    shown.set(Some(s));
                }
            });
        }
    };
    let copy = move |_| {
        leptos::task::spawn_local(async move {
            let secret = match shown.get_untracked() {
                Some(s) => Some(s),
                None => reveal_secret(id).await.ok(),
            };
            if let Some(secret) = secret {
                if copy_to_clipboard(&secret).await {
                    copied.set(true);
                }
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="secret-title">
            <h2 id="secret-title">"Signing secret"</h2>
            <p class="hint">"Verify the " <code>"X-Webhook-Signature"</code> " header with it: HMAC-SHA256 of the raw body."</p>
            <code class="secret" data-testid="secret">{move || shown.get().unwrap_or_else(|| masked.clone())}</code>
            <div class="actions compact">
                <a class="button small" href=move || if shown.get().is_some() { "?" } else { "?reveal=1" } on:click=toggle>
                    {move || if shown.get().is_some() { "Hide" } else { "Reveal" }}
                </a>
                <Show when=move || interactive.get()>
                    <button type="button" class="small" on:click=copy>
                        {move || if copied.get() { "Copied" } else { "Copy" }}
                    </button>
                </Show>
            </div>
            {w.previous_secret_until.map(|t| view! {
                <p class="hint">"The previous secret also signs until " {format_time(t)} "."</p>
            })}
            <ActionForm action=rotate>
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" class="small" disabled=move || rotate.pending().get()>"Rotate secret"</button>
            </ActionForm>
            <p class="hint">"After a rotation the previous secret keeps signing for 24 hours, so you can switch without losing events."</p>
        </section>
    }
}

#[cfg(feature = "hydrate")]
async fn copy_to_clipboard(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

#[cfg(not(feature = "hydrate"))]
async fn copy_to_clipboard(_text: &str) -> bool {
    false
}

/// A paused webhook: why (when it was paused automatically), how many events are held for it,
/// and the way back on — with held events, the choice to send or discard them (two plain
/// forms: they work without JavaScript).
#[component]
fn ReenableNotice(
    id: crate::domain::WebhookId,
    disabled_at: Option<i64>,
    disabled_reason: Option<String>,
    held_count: i64,
    enable: ServerAction<EnableWebhook>,
) -> impl IntoView {
    let error = move || {
        enable.value().get().and_then(|r| r.err()).map(|e| {
            match e.fields().and_then(|f| f.get("held").map(str::to_string)) {
                Some(m) => m,
                None => e.to_string(),
            }
        })
    };
    let events = if held_count == 1 { "event" } else { "events" };
    view! {
        <div class="notice warning" role="status">
            {disabled_at.map(|at| view! {
                <p><strong>"Paused automatically on " {format_time(at)} ". "</strong>
                    {disabled_reason.clone().unwrap_or_default()}
                    " Fix the endpoint, then switch the webhook back on."</p>
            })}
            {(held_count > 0).then(|| view! {
                <p class="held-count">
                    <strong>{format!("{held_count} {events} held")}</strong>
                    " while the webhook is paused. Re-enabling sends them, oldest first, or discards them."
                </p>
            })}
            {move || error().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            <div class="actions">
                {if held_count > 0 {
                    view! {
                        <ActionForm action=enable>
                            <input type="hidden" name="id" value=id.to_string()/>
                            <input type="hidden" name="held" value="send"/>
                            <button type="submit" class="primary small">
                                {format!("Re-enable and send the {held_count} held {events}")}
                            </button>
                        </ActionForm>
                        <ActionForm action=enable>
                            <input type="hidden" name="id" value=id.to_string()/>
                            <input type="hidden" name="held" value="discard"/>
                            <button type="submit" class="small">"Re-enable and discard them"</button>
                        </ActionForm>
                    }
                    .into_any()
                } else {
                    view! {
                        <ActionForm action=enable>
                            <input type="hidden" name="id" value=id.to_string()/>
                            <button type="submit" class="primary small">"Re-enable"</button>
                        </ActionForm>
                    }
                    .into_any()
                }}
            </div>
        </div>
    }
}

/// Which of the account's recent events the saved filter lets through.
#[component]
fn FilterPreview(checks: Vec<super::model::FilterCheck>) -> impl IntoView {
    let matched = checks.iter().filter(|c| c.matched).count();
    let total = checks.len();
    view! {
        <section class="card" aria-labelledby="filter-title" data-testid="filter-preview">
            <h2 id="filter-title">"Filter on recent events"</h2>
            {if total == 0 {
                view! { <p class="hint">"No events of these types yet: publish some to see which the filter lets through."</p> }.into_any()
            } else {
                view! {
                    <p>{format!("{matched} of the last {total} events of these types would have been sent.")}</p>
                    <table>
                        <thead><tr><th scope="col">"Event"</th><th scope="col">"When"</th><th scope="col">"Sent?"</th></tr></thead>
                        <tbody>
                            {checks.into_iter().map(|c| view! {
                                <tr>
                                    <td><code>{c.event_type.clone()}</code> " " <span class="event-desc">{c.summary.clone()}</span></td>
                                    <td>{format_time(c.created_at)}</td>
                                    <td>{if c.matched { "Sent" } else { "Filtered out" }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// The request the webhook would be sent for a chosen event (a type's example or one of the
/// account's recent events), as the dispatcher builds it. A plain GET form picks the event, so
/// it works without JavaScript.
#[component]
fn RequestPreviewPanel(id: crate::domain::WebhookId) -> impl IntoView {
    let query = use_query_map();
    let source = move || query.with(|q| q.get("preview").unwrap_or_default());
    let preview = Resource::new(source, move |s| preview_request(id, s));
    view! {
        <section class="card" aria-labelledby="preview-title" data-testid="request-preview" id="preview">
            <h2 id="preview-title">"Request preview"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Ok(p) => {
                            let headers = p
                                .headers
                                .iter()
                                .map(|(k, v)| format!("{k}: {v}"))
                                .collect::<Vec<_>>()
                                .join("\n");
                            let chosen = p.source.clone();
                            view! {
                                <form method="get" action=format!("/settings/webhooks/{id}/edit#preview") class="preview-form">
                                    <label for="preview-source">"Event"</label>
                                    <select id="preview-source" name="preview">
                                        {p.sources.iter().map(|s| view! {
                                            <option value=s.value.clone() selected=s.value == chosen>{s.label.clone()}</option>
                                        }).collect_view()}
                                    </select>
                                    <button type="submit">"Preview"</button>
                                </form>
                                {p.note.clone().map(|n| view! { <p class="notice warning" data-testid="preview-note">{n}</p> })}
                                <p class="hint">"Exactly what is sent, signed over these bytes; each delivery has its own id and time, and custom header values are shown as " <code>"***"</code> "."</p>
                                <h3>"Headers"</h3>
                                <pre class="body" data-testid="preview-headers">{headers}</pre>
                                <h3>"Body"</h3>
                                <pre class="body" data-testid="preview-body">{p.body.clone()}</pre>
                            }
                            .into_any()
                        }
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
