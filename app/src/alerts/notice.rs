use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::{list_alerts, AlertNotice, DismissAlert};
use crate::components::format_time;

/// The header's line naming the open incidents, on every page of a signed-in user (re-read on
/// each navigation); it links to the notices on the webhook list.
#[component]
pub fn HeaderAlerts(
    /// The header's signed-in user: nothing is asked for (or shown) without one.
    user: Resource<Result<Option<crate::auth::CurrentUser>, crate::error::AppError>>,
) -> impl IntoView {
    let location = use_location();
    let alerts = Resource::new(
        move || location.pathname.get(),
        move |_| async move {
            match user.await {
                Ok(Some(_)) => list_alerts().await,
                _ => Ok(Vec::new()),
            }
        },
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let list = alerts.await.unwrap_or_default();
                (!list.is_empty()).then(|| {
                    let names: Vec<String> = list
                        .iter()
                        .map(|a| format!("{} ({})", a.webhook_name, if a.is_disabled() { "paused" } else { "failing" }))
                        .collect();
                    let n = list.len();
                    view! {
                        <a class="header-alert" href="/settings/webhooks#alerts" data-testid="header-alert">
                            <span aria-hidden="true">"⚠ "</span>
                            {format!(
                                "{n} webhook alert{}: {}",
                                if n == 1 { "" } else { "s" },
                                names.join(", ")
                            )}
                        </a>
                    }
                })
            })}
        </Transition>
    }
}

/// The webhook list's notices: one per open incident, with what happened and a Dismiss button
/// (a plain form: it works without JavaScript). A notice goes by itself when its webhook
/// succeeds again or is re-enabled.
#[component]
pub fn AlertNotices() -> impl IntoView {
    let dismiss = ServerAction::<DismissAlert>::new();
    let alerts = Resource::new(move || dismiss.version().get(), |_| list_alerts());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let list = alerts.await.unwrap_or_default();
                (!list.is_empty()).then(|| view! {
                    <section id="alerts" class="alerts" aria-label="Webhook alerts">
                        {list
                            .into_iter()
                            .map(|a| view! { <Notice alert=a dismiss=dismiss/> })
                            .collect_view()}
                    </section>
                })
            })}
        </Transition>
    }
}

#[component]
fn Notice(alert: AlertNotice, dismiss: ServerAction<DismissAlert>) -> impl IntoView {
    let disabled = alert.is_disabled();
    let class = if disabled {
        "notice error alert"
    } else {
        "notice warning alert"
    };
    let title = if disabled {
        format!("“{}” was paused automatically.", alert.webhook_name)
    } else {
        format!("“{}” keeps failing.", alert.webhook_name)
    };
    let edit = format!("/settings/webhooks/{}/edit", alert.webhook_id);
    let id = alert.id.to_string();
    view! {
        <div class=class role="status" data-testid="alert-notice" data-alert-kind=alert.kind.clone()>
            <p><strong>{title}</strong> " " {alert.reason}</p>
            <dl class="facts">
                <dt>"URL"</dt><dd><code>{alert.webhook_url}</code></dd>
                <dt>"Last error"</dt><dd>{alert.last_error.unwrap_or_else(|| "—".into())}</dd>
                <dt>"Last success"</dt><dd>{alert.last_success_at.map(format_time).unwrap_or_else(|| "Never".into())}</dd>
                <dt>"Since"</dt><dd>{format_time(alert.opened_at)}</dd>
            </dl>
            <div class="actions">
                <a class="button small" href=edit>{if disabled { "Fix and re-enable" } else { "Open the webhook" }}</a>
                <ActionForm action=dismiss>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class="link">"Dismiss"</button>
                </ActionForm>
            </div>
        </div>
    }
}
