use leptos::prelude::*;

use crate::domain::FieldErrors;
use crate::error::AppError;

/// The field errors of an action's last result (non-validation errors become a form-level one).
pub fn errors_of<S>(action: ServerAction<S>) -> Signal<FieldErrors>
where
    S: server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Signal::derive(move || {
        action.value().with(|v| match v {
            Some(Err(AppError::Invalid(f))) => f.clone(),
            Some(Err(e)) => FieldErrors::form(e.to_string()),
            _ => FieldErrors::default(),
        })
    })
}

/// The message for one field, right under it (`id="{field}-error"` for aria-describedby).
#[component]
pub fn FieldError(#[prop(into)] errors: Signal<FieldErrors>, field: &'static str) -> impl IntoView {
    move || {
        errors.with(|e| {
            e.get(field).map(|m| {
                view! {
                    <p class="field-error" id=format!("{field}-error") role="alert">
                        {m.to_string()}
                    </p>
                }
            })
        })
    }
}

/// The message for the form as a whole.
#[component]
pub fn FormError(#[prop(into)] errors: Signal<FieldErrors>) -> impl IntoView {
    move || {
        errors.with(|e| {
            e.get("").map(|m| {
                view! {
                    <div class="form-error" role="alert">
                        {m.to_string()}
                    </div>
                }
            })
        })
    }
}
