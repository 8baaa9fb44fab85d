use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::auth::{get_current_user, Logout};

/// The top bar: the product, the settings sections and the account menu.
#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    // Re-read on every navigation, so logging in or out shows at once.
    let user = Resource::new(move || location.pathname.get(), |_| get_current_user());
    let logout = ServerAction::<Logout>::new();
    let section = move |prefix: &'static str| {
        move || {
            location
                .pathname
                .with(|p| p.starts_with(prefix))
                .then_some("page")
        }
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/settings/webhooks">
                <span class="logo" aria-hidden="true">"◆"</span>
                " SchedulingKit"
            </a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(u)) => view! {
                            {u.back.map(|(url, name)| view! { <a class="back" href=url>{format!("← Back to {name}")}</a> })}
                            <nav class="sections" aria-label="Settings">
                                <a href="/settings/webhooks" aria-current=section("/settings/webhooks")>"Webhooks"</a>
                                <a href="/settings/api-keys" aria-current=section("/settings/api-keys")>"API keys"</a>
                                <a href="/settings/account" aria-current=section("/settings/account")>"Account"</a>
                            </nav>
                            <div class="account">
                                <span class="email">{u.email}</span>
                                <ActionForm action=logout>
                                    <button type="submit" class="link">"Log out"</button>
                                </ActionForm>
                            </div>
                        }
                        .into_any(),
                        _ => view! {
                            <div class="account">
                                <a href="/login">"Log in"</a>
                                <a href="/signup" class="button small">"Sign up"</a>
                            </div>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
            // Not inside the Suspend above: a resource created there, after its await, finds
            // no AppState on the server and fails to hydrate. It asks only for a signed-in user.
            <crate::alerts::HeaderAlerts user=user/>
        </header>
    }
}
