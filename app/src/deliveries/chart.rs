use leptos::prelude::*;

use super::model::HourBucket;

const WIDTH: i32 = 480;
const HEIGHT: i32 = 110;
const BAR: i32 = WIDTH / 24;

/// Succeeded vs failed deliveries per hour over the last 24 hours, as an SVG drawn on the
/// server (no script needed).
#[component]
pub fn DeliveryChart(buckets: Vec<HourBucket>) -> impl IntoView {
    let peak = buckets
        .iter()
        .map(|b| b.succeeded + b.failed)
        .max()
        .unwrap_or(0);
    let scale = |n: i32| {
        if peak == 0 {
            0
        } else {
            (n as i64 * HEIGHT as i64 / peak as i64) as i32
        }
    };
    let succeeded: i32 = buckets.iter().map(|b| b.succeeded).sum();
    let failed: i32 = buckets.iter().map(|b| b.failed).sum();
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = i as i32 * BAR + 1;
            let ok_h = scale(b.succeeded);
            let fail_h = scale(b.failed);
            view! {
                <g data-hour=b.hour_start.to_string() data-succeeded=b.succeeded.to_string() data-failed=b.failed.to_string()>
                    <rect class="bar-ok" x=x.to_string() y=(HEIGHT - ok_h).to_string() width=(BAR - 2).to_string() height=ok_h.to_string()/>
                    <rect class="bar-failed" x=x.to_string() y=(HEIGHT - ok_h - fail_h).to_string() width=(BAR - 2).to_string() height=fail_h.to_string()/>
                </g>
            }
        })
        .collect_view();
    let labels = buckets
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 6 == 0)
        .map(|(i, b)| {
            let label = chrono::DateTime::from_timestamp_millis(b.hour_start)
                .map(|t| t.format("%H:00").to_string())
                .unwrap_or_default();
            view! { <text x=(i as i32 * BAR).to_string() y=(HEIGHT + 14).to_string() class="axis">{label}</text> }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {WIDTH} {}", HEIGHT + 18) role="img"
                aria-label=format!("Deliveries per hour over the last 24 hours: {succeeded} succeeded, {failed} failed")>
                <line x1="0" y1=HEIGHT.to_string() x2=WIDTH.to_string() y2=HEIGHT.to_string() class="baseline"/>
                {bars}
                {labels}
            </svg>
            <figcaption>
                <span class="legend ok">"■"</span> {format!(" {succeeded} succeeded ")}
                <span class="legend failed">"■"</span> {format!(" {failed} failed")}
                " · last 24 hours (UTC)"
            </figcaption>
        </figure>
    }
}
