//! The README's verification snippets, run against a real delivery (issue 15): each block
//! between `<!-- verify:NAME -->` and `<!-- /verify -->` is run with `node` or `python3` on a
//! captured request; it must accept it and reject the same request with the body changed.
//! And the delivery page's signature checker, through its server function, on the same kind of
//! real request.

use crate::common::api::Api;
use crate::common::receiver::{Received, Receiver};
use crate::common::TestApp;
use base64::Engine;
use serde_json::json;
use std::path::Path;
use std::process::Command;

/// The code blocks of README.md between `verify:` markers: (name, language, code).
fn snippets() -> Vec<(String, String, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let mut out = Vec::new();
    let mut rest = readme.as_str();
    while let Some(i) = rest.find("<!-- verify:") {
        let after = &rest[i + "<!-- verify:".len()..];
        let name_end = after.find(" -->").unwrap();
        let name = after[..name_end].to_string();
        let block_end = after.find("<!-- /verify -->").unwrap();
        let block = &after[name_end + 4..block_end];
        let fence = block.find("```").unwrap();
        let lang_end = block[fence..].find('\n').unwrap() + fence;
        let lang = block[fence + 3..lang_end].trim().to_string();
        let code_end = block[lang_end..].find("```").unwrap() + lang_end;
        out.push((name, lang, block[lang_end + 1..code_end].to_string()));
        rest = &after[block_end..];
    }
    out
}

/// A real delivery of a new webhook, with its secret.
async fn captured(app: &TestApp, email: &str) -> (Received, String, Api, i64) {
    let receiver = Receiver::start().await;
    let api = Api::new(app, email).await;
    let (status, w) = api
        .post(
            "/api/v1/webhooks",
            json!({"name": "verify", "url": receiver.url("ok"), "events": ["booking.created"]}),
        )
        .await;
    assert_eq!(status, 201, "{w}");
    let secret = w["secret"].as_str().unwrap().to_string();
    let id = w["id"].as_i64().unwrap();
    let (status, _) = api
        .publish(
            "booking.created",
            json!({"id": 123, "invitee": {"name": "Zoë Jiménez", "email": "zoe@example.com"}, "note": "a/b <c> \u{1F600}"}),
        )
        .await;
    assert_eq!(status, 202);
    app.dispatcher.run_until_idle().await.unwrap();
    let got = receiver.all().pop().expect("a delivery arrived");
    (got, secret, api, id)
}

fn run(lang: &str, code: &str, dir: &Path, body: &[u8], r: &Received, secret: &str) -> String {
    std::fs::write(dir.join("body.bin"), body).unwrap();
    std::fs::write(
        dir.join("headers.json"),
        serde_json::to_vec(&r.headers).unwrap(),
    )
    .unwrap();
    let (program, file, harness) = match lang {
        "js" => (
            "node".to_string(),
            "snippet.js",
            format!(
                "{code}\nconst fs = require('fs');\nconst body = fs.readFileSync(process.argv[2]);\n\
                 const headers = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));\n\
                 console.log(verify(body, headers, process.env.SECRET) ? 'accepted' : 'rejected');\n"
            ),
        ),
        "python" => (
            python(),
            "snippet.py",
            format!(
                "{code}\nimport json, os, sys\nbody = open(sys.argv[1], 'rb').read()\n\
                 headers = json.load(open(sys.argv[2]))\n\
                 print('accepted' if verify(body, headers, os.environ['SECRET']) else 'rejected')\n"
            ),
        ),
        other => panic!("no runner for {other}"),
    };
    std::fs::write(dir.join(file), harness).unwrap();
    let out = Command::new(&program)
        .arg(dir.join(file))
        .arg(dir.join("body.bin"))
        .arg(dir.join("headers.json"))
        .env("SECRET", secret)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The Python to run snippets with: `SKW_VERIFY_PYTHON`, else the venv `make verify-deps`
/// makes, else `python3`.
fn python() -> String {
    if let Ok(p) = std::env::var("SKW_VERIFY_PYTHON") {
        return p;
    }
    let venv = std::env::var("HOME")
        .map(|h| format!("{h}/.cache/schedulingkit-webhooks-tools/verify-venv/bin/python"));
    match venv {
        Ok(v) if Path::new(&v).exists() => v,
        _ => "python3".into(),
    }
}

fn library_available() -> bool {
    let python = python();
    Command::new(python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn readme_snippets_verify_a_real_delivery(app: TestApp) {
    let (got, secret, _, _) = captured(&app, "snippets@example.com").await;
    let all = snippets();
    let names: Vec<&str> = all.iter().map(|(n, _, _)| n.as_str()).collect();
    for want in [
        "node-seed",
        "python-seed",
        "node-standard",
        "python-standard",
        "python-library",
    ] {
        assert!(
            names.contains(&want),
            "README has no {want} snippet: {names:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut tampered = got.body.clone();
    let at = tampered.iter().position(|b| *b == b'3').unwrap();
    tampered[at] = b'4';
    for (name, lang, code) in &all {
        if name == "python-library" && !library_available() {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "the standardwebhooks package is missing (make verify-deps installs it; SKW_VERIFY_PYTHON)"
            );
            eprintln!("skipping {name}: standardwebhooks is not installed (make verify-deps)");
            continue;
        }
        assert_eq!(
            run(lang, code, dir.path(), &got.body, &got, &secret),
            "accepted",
            "{name} refused a real delivery"
        );
        assert_eq!(
            run(lang, code, dir.path(), &tampered, &got, &secret),
            "rejected",
            "{name} accepted a changed body"
        );
    }
    app.stop().await;
}

/// The checker's server function on a real delivery: the real values match; the other
/// encoding, the other key form, a re-serialised body and the secret before a rotation are
/// each named.
async fn signature_checker_names_the_mistake(app: TestApp) {
    use hmac::{Hmac, Mac};
    let (got, secret, api, id) = captured(&app, "checker@example.com").await;
    let user = app.client();
    let res = user
        .call(
            "auth/login",
            &[
                ("email", "checker@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let delivery = got.headers["webhook-id"].clone();
    let check = |scheme: &'static str, value: String| {
        let user = &user;
        let delivery = delivery.clone();
        async move {
            let res = user
                .call(
                    "deliveries/check-signature",
                    &[
                        ("webhook_id", id.to_string().as_str()),
                        ("delivery_id", delivery.as_str()),
                        ("scheme", scheme),
                        ("computed", value.as_str()),
                    ],
                )
                .await;
            let status = res.status();
            let v: serde_json::Value = res.json().await.unwrap();
            assert_eq!(status, 200, "{v}");
            v["verdict"].as_str().unwrap().to_string()
        }
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let hmac = |key: &[u8], msg: &[u8]| {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    };
    let seed = got.headers["x-webhook-signature"].clone();
    let standard = got.headers["webhook-signature"].clone();
    assert_eq!(check("seed", seed.clone()).await, "match");
    assert_eq!(check("standard", standard.clone()).await, "match");
    // Hex vs base64.
    assert_eq!(
        check("seed", b64(&hex::decode(&seed).unwrap())).await,
        "hex_vs_base64"
    );
    let std_mac = base64::engine::general_purpose::STANDARD
        .decode(standard.trim_start_matches("v1,"))
        .unwrap();
    assert_eq!(
        check("standard", hex::encode(&std_mac)).await,
        "hex_vs_base64"
    );
    // Wrong key form.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    assert_eq!(
        check("seed", hex::encode(hmac(&decoded, &got.body))).await,
        "wrong_key_form"
    );
    let content = [
        format!("{delivery}.{}.", got.headers["webhook-timestamp"]).into_bytes(),
        got.body.clone(),
    ]
    .concat();
    assert_eq!(
        check(
            "standard",
            format!("v1,{}", b64(&hmac(secret.as_bytes(), &content)))
        )
        .await,
        "wrong_key_form"
    );
    // Re-serialised (pretty-printed) body.
    let value: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    assert_eq!(
        check("seed", hex::encode(hmac(secret.as_bytes(), &pretty))).await,
        "reserialised"
    );
    // Stale secret after a rotation.
    let (status, _) = api
        .post(&format!("/api/v1/webhooks/{id}/rotate-secret"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(check("seed", seed.clone()).await, "stale_secret");
    assert_eq!(check("seed", "nonsense".into()).await, "unknown");
    // An empty value is an error next to the field.
    let res = user
        .call(
            "deliveries/check-signature",
            &[
                ("webhook_id", id.to_string().as_str()),
                ("delivery_id", delivery.as_str()),
                ("scheme", "seed"),
                ("computed", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    // The page shows both signed contents.
    let page = user
        .get(&format!("/settings/webhooks/{id}/deliveries/{delivery}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Check a signature"), "{page}");
    assert!(page.contains(&format!("{delivery}.{}.", got.headers["webhook-timestamp"])));
    app.stop().await;
}

backend_tests!(
    readme_snippets_verify_a_real_delivery,
    signature_checker_names_the_mistake,
);
