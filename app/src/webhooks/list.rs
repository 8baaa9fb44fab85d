use leptos::prelude::*;
use leptos_meta::Title;

use super::{list_webhooks, WebhookSummary};
use crate::components::{format_time, ErrorNotice, StatusBadge};

#[component]
pub fn WebhookListPage() -> impl IntoView {
    let webhooks = Resource::new(|| (), |_| list_webhooks());
    view! {
        <Title text="Webhooks · SchedulingKit"/>
        <div class="page-head">
            <div>
                <h1>"Webhooks"</h1>
                <p class="lede">
                    "Get a signed POST at your own endpoint whenever a booking, an event or a payment changes."
                </p>
            </div>
            <a class="button primary" href="/settings/webhooks/create">"New webhook"</a>
        </div>
        <crate::alerts::AlertNotices/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match webhooks.await {
                    Ok(list) if list.is_empty() => view! { <EmptyState/> }.into_any(),
                    Ok(list) => view! { <WebhookTable list=list/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2>"No webhooks yet"</h2>
            <p>"Send booking, event and payment notifications to your CRM, Slack, Zapier or your own server."</p>
            <a class="button primary" href="/settings/webhooks/create">"Create your first webhook"</a>
        </div>
    }
}

#[component]
fn WebhookTable(list: Vec<WebhookSummary>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="webhooks">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"URL"</th>
                        <th scope="col">"Events"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Last delivery"</th>
                        <th scope="col">"Success (24 h)"</th>
                        <th scope="col">"Created"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|w| {
                            let shown: Vec<String> = w.events.iter().take(3).cloned().collect();
                            let more = w.events.len().saturating_sub(3);
                            view! {
                                <tr data-webhook-id=w.id.to_string()>
                                    <td class="name">
                                        <a href=format!("/settings/webhooks/{}/edit", w.id)>{w.name}</a>
                                    </td>
                                    <td class="url"><code title=w.url.clone()>{w.url.clone()}</code></td>
                                    <td class="events">
                                        {shown.into_iter().map(|e| view! { <span class="chip">{e}</span> }).collect_view()}
                                        {(more > 0).then(|| view! { <span class="chip more">{format!("+{more}")}</span> })}
                                    </td>
                                    <td>
                                        <super::state_badge::WebhookStateBadge
                                            active=w.active
                                            disabled_reason=w.disabled_reason.clone()/>
                                        {(w.held_count > 0).then(|| view! {
                                            " "
                                            <a class="chip held" href=format!("/settings/webhooks/{}/edit", w.id)>
                                                {format!("{} held", w.held_count)}
                                            </a>
                                        })}
                                    </td>
                                    <td class="last">
                                        {match w.last_delivery.clone() {
                                            Some(d) => view! {
                                                <a href=format!("/settings/webhooks/{}/deliveries/{}", w.id, d.id)>
                                                    <StatusBadge row=d.clone()/>
                                                </a>
                                                <span class="hint">" " {format_time(d.created_at)}</span>
                                            }
                                            .into_any(),
                                            None => view! { <span class="hint">"Nothing sent yet"</span> }.into_any(),
                                        }}
                                    </td>
                                    <td class="rate">
                                        <a href=format!("/settings/webhooks/{}/deliveries", w.id)>
                                            {success_rate(w.succeeded_24h, w.finished_24h)}
                                        </a>
                                    </td>
                                    <td class="created">{format_time(w.created_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `98.5 % of 200`, or a dash when nothing finished.
fn success_rate(succeeded: i64, finished: i64) -> String {
    if finished == 0 {
        "—".to_string()
    } else {
        let pct = succeeded as f64 * 100.0 / finished as f64;
        let pct = if pct >= 99.95 || pct == pct.trunc() {
            format!("{pct:.0}")
        } else {
            format!("{pct:.1}")
        };
        format!("{pct} % of {finished}")
    }
}
