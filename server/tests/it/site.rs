//! What the site serves besides its pages: the icon every page links to, and how every answer
//! travels (compressed by `Accept-Encoding`) and may be cached.

use crate::common::{spawn_app_with, test_args, TestApp};

/// Every page links to the icon, and the icon answers as an image: served from the site root,
/// where cargo-leptos copies the assets directory (`assets-dir = "public"`).
async fn pages_link_an_icon_that_is_served(app: TestApp) {
    let backend = app.backend;
    app.stop().await;
    let mut args = test_args();
    // The assets directory is what cargo-leptos copies into the site root.
    args.site_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../public");
    let Some(app) = spawn_app_with(backend, args).await else {
        return;
    };
    let client = app.client();
    for page in ["/login", "/signup", "/no-such-page"] {
        let html = client.get(page).await.text().await.unwrap();
        assert!(
            html.contains(&format!(
                r#"<link rel="icon" type="image/svg+xml" href="{}">"#,
                app::FAVICON_PATH
            )),
            "{page}: {html}"
        );
    }
    let icon = client.get(app::FAVICON_PATH).await;
    assert_eq!(icon.status(), 200);
    assert_eq!(
        icon.headers()["content-type"].to_str().unwrap(),
        "image/svg+xml"
    );
    assert!(icon.text().await.unwrap().starts_with("<svg"));
    app.stop().await;
}

/// Answers are compressed (brotli or gzip, as the client accepts) — pages, JSON, the bundle —
/// and say how long they may be kept: the hashed bundle a year (`immutable`), private pages
/// never, the rest after revalidation. The old server sent everything uncompressed and the
/// bundle without any caching header.
async fn answers_are_compressed_and_cacheable_as_they_should(app: TestApp) {
    let backend = app.backend;
    app.stop().await;
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let hashed = format!("{}.AbCdEf0123456789xyzQ.wasm", app::OUTPUT_NAME);
    // Compressible, like a real bundle.
    std::fs::write(
        site.path().join("pkg").join(&hashed),
        "\0asm".repeat(10_000),
    )
    .unwrap();
    let mut args = test_args();
    args.site_root = site.path().to_path_buf();
    let Some(app) = spawn_app_with(backend, args).await else {
        return;
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, encoding: &str| {
        http.get(format!("{}{path}", app.base))
            .header("accept-encoding", encoding)
            .send()
    };
    let header = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };

    let bundle = get(&format!("/pkg/{hashed}"), "br, gzip").await.unwrap();
    assert_eq!(bundle.status(), 200);
    assert_eq!(header(&bundle, "content-encoding"), "br");
    assert_eq!(
        header(&bundle, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let compressed = bundle.bytes().await.unwrap().len();
    assert!(compressed < 10_000, "{compressed} bytes for 50 000");

    let page = get("/login", "gzip").await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-encoding"), "gzip");
    assert_eq!(header(&page, "cache-control"), "no-cache");

    let plain = get("/login", "identity").await.unwrap();
    assert_eq!(header(&plain, "content-encoding"), "");
    assert!(plain.text().await.unwrap().contains("<html"));

    let private = get("/settings/webhooks", "br").await.unwrap();
    assert_eq!(header(&private, "cache-control"), "no-store");

    let api = get("/api/v1/openapi.json", "gzip").await.unwrap();
    assert_eq!(api.status(), 200);
    assert_eq!(header(&api, "content-encoding"), "gzip");
    app.stop().await;
}

backend_tests!(
    pages_link_an_icon_that_is_served,
    answers_are_compressed_and_cacheable_as_they_should,
);
