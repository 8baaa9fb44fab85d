use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::error::AppError;

/// How a page shows an error that prevents it from rendering its content. On the server it also
/// sets the HTTP status (404 for another account's or a deleted webhook, and so on). `missing`
/// names what the page shows, for the not-found notice ("webhook", "delivery").
#[component]
pub fn ErrorNotice(
    error: AppError,
    #[prop(default = "webhook")] missing: &'static str,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(error.status());
        }
    }
    let location = use_location();
    match error {
        AppError::Unauthorized => {
            let next = location.pathname.get_untracked();
            view! {
                <div class="notice warning" role="alert">
                    <p>"Your session has ended. "
                        <a href=format!("/login?next={next}")>"Log in again"</a>
                    </p>
                </div>
            }
            .into_any()
        }
        AppError::NotFound => view! {
            <div class="notice" role="alert">
                <h2>"Not found"</h2>
                <p>{format!("This {missing} does not exist, or it is not in your account. ")}
                    <a href="/settings/webhooks">"Back to your webhooks"</a>
                </p>
            </div>
        }
        .into_any(),
        other => view! {
            <div class="notice error" role="alert">
                <p>{other.to_string()}</p>
            </div>
        }
        .into_any(),
    }
}
