//! Vetting a webhook's settings before they are stored: the form's rules and its address.

use std::time::Duration;

use crate::domain::WebhookDraft;
use crate::error::AppError;

/// Validates a webhook's settings (the form's rules) and, if its host is a name, resolves it:
/// a name that resolves to a refused address is refused now, with the reason. A name that does
/// not resolve (yet) is accepted; every send checks again.
pub async fn vet(
    input: &crate::domain::WebhookInput,
    policy: crate::domain::TargetPolicy,
) -> Result<WebhookDraft, AppError> {
    // The filter is checked here (minijinja is server-only), with the form's other errors.
    // So is a template, when the format is `template`.
    let filter_of = |events| crate::domain::filter::parse(&input.filter, events);
    let template_of = |draft: &WebhookDraft| match (&draft.template, draft.format) {
        (Some(source), crate::domain::WebhookFormat::Template) => {
            crate::domain::template::check(source, draft.body_type, draft.events).map(|_| ())
        }
        _ => Ok(()),
    };
    let draft = match WebhookDraft::parse(input, policy) {
        Ok(mut draft) => {
            let mut errors = crate::domain::FieldErrors::new();
            match filter_of(draft.events) {
                Ok(filter) => draft.filter = filter,
                Err(e) => errors.add("filter", e),
            }
            if let Err(e) = template_of(&draft) {
                errors.add("template", e);
            }
            if !errors.is_empty() {
                return Err(AppError::Invalid(errors.with_echo(input.to_echo())));
            }
            draft
        }
        Err(mut errors) => {
            if let Ok(Err(e)) = crate::domain::EventSet::parse(&input.events).map(filter_of) {
                errors.add("filter", e);
            }
            return Err(AppError::Invalid(errors));
        }
    };
    let host = url::Url::parse(draft.url.as_str())
        .ok()
        .and_then(|u| match u.host() {
            Some(url::Host::Domain(d)) => {
                Some((d.to_string(), u.port_or_known_default().unwrap_or(443)))
            }
            _ => None,
        });
    if let Some((host, port)) = host.filter(|_| policy.resolve_on_save) {
        let lookup = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await;
        if let Ok(Ok(addrs)) = lookup {
            let ips: Vec<_> = addrs.map(|a| a.ip()).collect();
            if let Err(reason) = crate::domain::check_resolved(&host, &ips, policy) {
                let mut errors = crate::domain::FieldErrors::new();
                errors.add(
                    "url",
                    format!("{reason}; webhooks go to public addresses only."),
                );
                return Err(AppError::Invalid(errors.with_echo(input.to_echo())));
            }
        }
    }
    Ok(draft)
}
