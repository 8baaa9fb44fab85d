use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{Login, Signup};
use crate::components::{errors_of, FieldError, FormError};

/// The `next` query parameter, carried through the form.
fn next_param() -> String {
    use_query_map().with_untracked(|q| q.get("next").unwrap_or_default())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let errors = errors_of(action);
    let email = errors.with_untracked(|e| e.echoed("email").unwrap_or_default().to_string());
    let next = next_param();
    let signup_href = if next.is_empty() {
        "/signup".to_string()
    } else {
        format!("/signup?next={}", urlencode(&next))
    };
    view! {
        <Title text="Log in · SchedulingKit"/>
        <section class="auth-card">
            <h1>"Log in"</h1>
            <ActionForm action=action>
                <FormError errors=errors/>
                <input type="hidden" name="next" value=next/>
                <div class="field">
                    <label for="email">"E-mail"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required value=email/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required/>
                </div>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Logging in…" } else { "Log in" }}
                </button>
            </ActionForm>
            <p class="aside">"No account yet? " <a href=signup_href>"Sign up"</a></p>
        </section>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<Signup>::new();
    let errors = errors_of(action);
    let email = errors.with_untracked(|e| e.echoed("email").unwrap_or_default().to_string());
    let next = next_param();
    view! {
        <Title text="Sign up · SchedulingKit"/>
        <section class="auth-card">
            <h1>"Create your account"</h1>
            <ActionForm action=action>
                <FormError errors=errors/>
                <input type="hidden" name="next" value=next/>
                <div class="field">
                    <label for="email">"E-mail"</label>
                    <input id="email" name="email" type="email" autocomplete="email" required value=email
                        aria-describedby="email-error"/>
                    <FieldError errors=errors field="email"/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="new-password" required
                        aria-describedby="password-hint password-error"/>
                    <p class="hint" id="password-hint">"At least 8 characters."</p>
                    <FieldError errors=errors field="password"/>
                </div>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Creating account…" } else { "Sign up" }}
                </button>
            </ActionForm>
            <p class="aside">"Already have an account? " <a href="/login">"Log in"</a></p>
        </section>
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
