use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::model::{DeliveryPage, DeliveryRow, LogFilter};
use super::{list_deliveries, ReplayDeliveries, ReplayOutcome};
use crate::components::{format_duration_ms, format_time, ErrorNotice, StatusBadge};
use crate::domain::EventType;
use crate::error::AppError;
use crate::webhooks::{get_webhook, WebhookDetail};

/// Re-reads `refresh` every two seconds while `pending()` says something is still under way
/// (only in the browser; the server renders once).
pub fn poll_while(pending: impl Fn() -> bool + 'static, refresh: RwSignal<u64>) {
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                if pending() {
                    refresh.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_secs(2),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (pending, refresh);
    }
}

#[component]
pub fn DeliveryLogPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|s| s.parse::<crate::domain::WebhookId>().ok())
        })
    };
    let filter = move || {
        query.with(|q| {
            (
                q.get("status").unwrap_or_default(),
                q.get("event").unwrap_or_default(),
                q.get("cursor").unwrap_or_default(),
            )
        })
    };
    let refresh = RwSignal::new(0u64);
    let webhook = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_webhook(id, false).await,
            None => Err(AppError::NotFound),
        }
    });
    let page = Resource::new(
        move || (id(), filter(), refresh.get()),
        |(id, (status, event, cursor), _)| async move {
            match id {
                Some(id) => list_deliveries(id, status, event, cursor).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    poll_while(
        move || {
            page.with_untracked(
                |p| matches!(p, Some(Ok(p)) if p.rows.iter().any(DeliveryRow::is_pending)),
            )
        },
        refresh,
    );

    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (status, event, cursor) = filter();
                match (webhook.await, page.await) {
                    (Ok(w), Ok(p)) => {
                        let filter = LogFilter::parse(&status, &event, &cursor).unwrap_or_default();
                        view! { <LogView w=w page=p filter=filter/> }.into_any()
                    }
                    (Err(e), _) | (_, Err(e)) => view! {
                        <Title text="Deliveries · SchedulingKit"/>
                        <ErrorNotice error=e/>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn LogView(w: WebhookDetail, page: DeliveryPage, filter: LogFilter) -> impl IntoView {
    let base = format!("/settings/webhooks/{}/deliveries", w.id);
    let newer = filter
        .cursor
        .as_ref()
        .map(|_| format!("{base}{}", filter.query(None)));
    let older = page
        .next_cursor
        .as_ref()
        .map(|c| format!("{base}{}", filter.query(Some(c))));
    let status = filter.status.clone().unwrap_or_default();
    let event = filter.event.clone().unwrap_or_default();
    let empty = page.rows.is_empty();
    view! {
        <Title text=format!("Deliveries · {} · SchedulingKit", w.name)/>
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <a href="/settings/webhooks">"Webhooks"</a>
            " / "
            <a href=format!("/settings/webhooks/{}/edit", w.id)>{w.name.clone()}</a>
            " / Deliveries"
        </nav>
        <div class="page-head">
            <div>
                <h1>"Delivery log"</h1>
                <p class="lede">"Every event sent to " <code>{w.url.clone()}</code> ", newest first. Open one to see the exact request and every attempt."</p>
            </div>
        </div>
        <form method="get" class="filters" action=base.clone()>
            <label>"Status "
                <select name="status">
                    {[("", "Any status"), ("scheduled", "Scheduled"), ("pending", "Pending"), ("succeeded", "Succeeded"), ("failed", "Failed"), ("cancelled", "Cancelled"), ("held", "Held")]
                        .into_iter()
                        .map(|(v, label)| view! { <option value=v selected=status == v>{label}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>"Event "
                <select name="event">
                    <option value="" selected=event.is_empty()>"Any event"</option>
                    {EventType::ALL
                        .into_iter()
                        .map(|t| view! { <option value=t.as_str() selected=event == t.as_str()>{t.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <button type="submit" class="small">"Filter"</button>
        </form>
        <ReplayPanel webhook_id=w.id/>
        {if empty {
            view! {
                <div class="empty-state small">
                    <p>{if filter.status.is_some() || filter.event.is_some() {
                        "No deliveries match these filters."
                    } else {
                        "Nothing has been sent to this webhook yet. Send a test event from its settings page."
                    }}</p>
                </div>
            }
            .into_any()
        } else {
            view! { <DeliveryTable rows=page.rows webhook_id=w.id/> }.into_any()
        }}
        <nav class="pager" aria-label="Pages">
            {newer.map(|href| view! { <a class="button small" href=href>"← Newest"</a> })}
            {older.map(|href| view! { <a class="button small" href=href>"Older →"</a> })}
        </nav>
    }
}

#[component]
fn DeliveryTable(rows: Vec<DeliveryRow>, webhook_id: crate::domain::WebhookId) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="deliveries">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"Response"</th>
                        <th scope="col">"Duration"</th>
                        <th scope="col">"Delivery"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let href = format!("/settings/webhooks/{webhook_id}/deliveries/{}", r.id);
                            let response = match (r.last_status_code, &r.last_error) {
                                (Some(code), _) => code.to_string(),
                                (None, Some(e)) => e.clone(),
                                (None, None) => "—".to_string(),
                            };
                            let short = r.id.chars().take(13).collect::<String>();
                            view! {
                                <tr data-delivery-id=r.id.clone() data-status=r.status.clone()>
                                    <td class="time">{format_time(r.created_at)}</td>
                                    <td><code>{r.event_type.clone()}</code></td>
                                    <td><StatusBadge row=r.clone()/></td>
                                    <td class="num">{r.attempts}</td>
                                    <td class="response" title=response.clone()>{response.clone()}</td>
                                    <td class="num">{r.last_duration_ms.map(|d| format_duration_ms(d.into())).unwrap_or_default()}</td>
                                    <td><a href=href><code>{short} "…"</code></a></td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Bulk replay: a filter, a count first (dry run), then a confirmation that queues them. Plain
/// forms: without JavaScript the server function redirects back with the outcome in the query.
#[component]
fn ReplayPanel(webhook_id: crate::domain::WebhookId) -> impl IntoView {
    let query = use_query_map();
    let replay = ServerAction::<ReplayDeliveries>::new();
    let q = |k: &str| query.with_untracked(|q| q.get(k)).unwrap_or_default();
    let from_query = {
        let matched = q("matched").parse::<u64>().ok();
        let queued = q("queued").parse::<u64>().ok();
        matched.map(|matched| ReplayOutcome {
            matched,
            queued: queued.unwrap_or(0),
            cap: 10_000,
            dry_run: queued.is_none(),
        })
    };
    let status = RwSignal::new(match q("replay_status").as_str() {
        "succeeded" => "succeeded".to_string(),
        _ => "failed".to_string(),
    });
    let event = RwSignal::new(q("replay_event"));
    let since = RwSignal::new(q("replay_since"));
    let until = RwSignal::new(q("replay_until"));
    let opened = from_query.is_some();
    let outcome = move || match replay.value().get() {
        Some(Ok(o)) => Some(Ok(o)),
        Some(Err(e)) => Some(Err(e)),
        None => from_query.clone().map(Ok),
    };
    let id = webhook_id.to_string();
    let id2 = StoredValue::new(id.clone());
    view! {
        <details class="card replay" open=opened>
            <summary>"Replay deliveries…"</summary>
            <p class="hint">"Sends matching deliveries again, with the same delivery ids (receivers deduplicate on them), one try each, through the queue. Count them first; at most 10 000 per replay."</p>
            <ActionForm action=replay>
                <input type="hidden" name="webhook_id" value=id.clone()/>
                <label>"Status "
                    <select name="status" on:change=move |ev| status.set(event_target_value(&ev))>
                        <option value="failed" selected=move || status.get() == "failed">"Failed"</option>
                        <option value="succeeded" selected=move || status.get() == "succeeded">"Succeeded"</option>
                    </select>
                </label>
                <label>"Event "
                    <select name="event" on:change=move |ev| event.set(event_target_value(&ev))>
                        <option value="" selected=move || event.get().is_empty()>"Any event"</option>
                        {EventType::ALL
                            .into_iter()
                            .map(|t| view! { <option value=t.as_str() selected=move || event.get() == t.as_str()>{t.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>"Since (RFC 3339) "
                    <input type="text" name="since" placeholder="2025-01-15T00:00:00Z" prop:value=move || since.get()
                        on:input=move |ev| since.set(event_target_value(&ev))/>
                </label>
                <label>"Until "
                    <input type="text" name="until" placeholder="2025-01-16T00:00:00Z" prop:value=move || until.get()
                        on:input=move |ev| until.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="small">"Count matching deliveries"</button>
            </ActionForm>
            <div aria-live="polite">
                {move || outcome().map(|o| match o {
                    Err(e) => {
                        let msg = e
                            .fields()
                            .and_then(|f| {
                                ["status", "event", "since", "until"]
                                    .into_iter()
                                    .find_map(|k| f.get(k).map(|m| format!("{k}: {m}")))
                            })
                            .unwrap_or_else(|| e.to_string());
                        view! { <p class="field-error" role="alert">{msg}</p> }.into_any()
                    }
                    Ok(o) if o.dry_run && o.matched > 0 => {
                        let n = o.matched.min(o.cap);
                        view! {
                            <p class="replay-count">{format!("{} deliveries match.", o.matched)}</p>
                            <ActionForm action=replay>
                                <input type="hidden" name="webhook_id" value=id2.get_value()/>
                                <input type="hidden" name="status" value=status.get_untracked()/>
                                <input type="hidden" name="event" value=event.get_untracked()/>
                                <input type="hidden" name="since" value=since.get_untracked()/>
                                <input type="hidden" name="until" value=until.get_untracked()/>
                                <input type="hidden" name="confirm" value="yes"/>
                                <button type="submit" class="primary small">{format!("Replay {n} deliveries")}</button>
                            </ActionForm>
                        }
                        .into_any()
                    }
                    Ok(o) if o.dry_run => view! { <p class="replay-count">"No deliveries match."</p> }.into_any(),
                    Ok(o) => view! {
                        <p class="replay-done" role="status">
                            {format!("Queued {} of {} matching deliveries for replay.", o.queued, o.matched)}
                            {(o.matched > o.queued).then_some(" Replay again for the rest (at most 10 000 at a time).")}
                        </p>
                    }
                    .into_any(),
                })}
            </div>
        </details>
    }
}
