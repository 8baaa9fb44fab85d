import { expect, Frame, Page, test } from "@playwright/test";
import { execFileSync } from "child_process";
import * as http from "http";
import { expectNoViolations, fillWebhook, shot, startReceiver } from "./helpers";

// The embedding server of playwright.config.ts: framable by the product's origin only.
const embedPort = Number(process.env.SKW_E2E_EMBED_PORT);
const EMBED = `http://127.0.0.1:${embedPort}`;
// The scheduling product: another site (localhost is not 127.0.0.1) on a second loopback port.
const PRODUCT_PORT = embedPort + 1;
const PRODUCT = `http://localhost:${PRODUCT_PORT}`;
// A site that is not allowed to frame the pages.
const OTHER_PORT = embedPort + 2;
// The ordinary test server, which nobody may frame.
const MAIN = `http://127.0.0.1:${Number(process.env.SKW_E2E_PORT ?? 3300)}`;

/** A new operator key in the embedding server's database, made with the CLI as an operator would. */
function operatorKey(): string {
  return execFileSync(process.env.SKW_E2E_BIN_PATH!, ["operator-key", "create", "--name", `e2e-${Date.now()}`], {
    env: { ...process.env, DATABASE_URL: `sqlite://${process.env.SKW_E2E_EMBED_DIR}/embed.db` },
  })
    .toString()
    .trim();
}

async function api(key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${EMBED}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The product's settings page: its own heading and an iframe of `src`, served on 127.0.0.1:`port`. */
async function hostPage(port: number, src: string): Promise<{ close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
        `<meta name="viewport" content="width=device-width, initial-scale=1"><title>Settings · Acme Scheduling</title>` +
        `<style>body{margin:0;font-family:sans-serif}h1{margin:.5rem 1rem;font-size:1.2rem}` +
        `iframe{display:block;width:100%;height:1100px;border:0}</style></head>` +
        // The product's own header; the main landmark is the framed page's.
        `<body><header aria-label="Acme Scheduling"><h1>Acme Scheduling settings</h1></header><iframe title="Webhooks" src="${src}"></iframe></body></html>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }) };
}

/** The iframe's frame as it is now. */
function inner0(page: Page): Frame {
  return page.frames()[1];
}

/** The iframe's frame once it has navigated away from about:blank. */
async function childFrame(page: Page): Promise<Frame> {
  await expect.poll(() => page.frames().length).toBeGreaterThan(1);
  const frame = page.frames()[1];
  await expect.poll(() => frame.url()).not.toBe("about:blank");
  return frame;
}

test("the settings pages work inside the product's frame, logged in by a one-time link", async ({ page }, info) => {
  const receiver = await startReceiver();
  const key = operatorKey();
  const account = `cus_${Date.now()}`;
  let host: { close: () => Promise<void> } | undefined;
  try {
    const put = await api(key, "PUT", `/api/v1/accounts/${account}`, {
      name: "Dr. Ada",
      owner_email: `${account}@example.com`,
    });
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    const link = await api(key, "POST", `/api/v1/accounts/${account}/login-links`, {
      return_url: `${PRODUCT}/settings`,
      embedded: true,
    });
    expect(link.status, JSON.stringify(link.body)).toBe(201);
    host = await hostPage(PRODUCT_PORT, link.body.url);

    await page.goto(`${PRODUCT}/`);
    const frame = page.frameLocator('iframe[title="Webhooks"]');
    // Logged in by the link inside the frame (its cookie is a third party's here).
    await expect(frame.getByRole("heading", { level: 1, name: "Webhooks" })).toBeVisible();
    await expect(frame.locator('body[data-hydrated="true"]')).toHaveCount(1, { timeout: 30_000 });
    const back = frame.getByRole("link", { name: "← Back to Acme Scheduling" });
    await expect(back).toHaveAttribute("href", `${PRODUCT}/settings`);
    // Embedded: no brand, no account menu of our own; the product's accent colour.
    await expect(frame.locator(".brand")).toBeHidden();
    await expect(frame.locator(".account")).toBeHidden();
    await expect(frame.getByRole("link", { name: "New webhook" })).toHaveCSS("background-color", "rgb(10, 107, 61)");
    await expectNoViolations(page, info, "embedded-list");

    // Create a webhook and send a test event, all inside the frame.
    await frame.getByRole("link", { name: "New webhook" }).click();
    await expect(frame.getByRole("heading", { level: 1, name: "New webhook" })).toBeVisible();
    await expect(frame.locator('body[data-hydrated="true"]')).toHaveCount(1, { timeout: 30_000 });
    await fillWebhook(frame, "Framed receiver", receiver.url, ["booking.created"]);
    await frame.getByRole("button", { name: "Create webhook" }).click();
    await frame.locator("tbody tr", { hasText: "Framed receiver" }).getByRole("link", { name: "Framed receiver" }).click();
    await expect(frame.locator('body[data-hydrated="true"]')).toHaveCount(1, { timeout: 30_000 });
    await frame.getByRole("button", { name: "Send test event" }).click();
    await expect(frame.locator(".outcome.succeeded")).toContainText("Delivered: HTTP 200");
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0].headers["x-webhook-event"]).toBe("webhook.test");
    await shot(page, info, "embedded-edit");

    // Every settings page fits a 360 px wide frame: nothing wider than the frame (a wide table
    // scrolls inside its own box).
    const hookPath = new URL(inner0(page).url()).pathname.replace(/\/edit$/, "");
    await page.setViewportSize({ width: 360, height: 900 });
    const inner = await childFrame(page);
    const deliveries = `${hookPath}/deliveries`;
    await inner.goto(`${EMBED}${deliveries}`);
    const delivery = await inner.locator("table.deliveries tbody a").first().getAttribute("href");
    for (const path of [
      "/settings/webhooks",
      "/settings/webhooks/create",
      `${hookPath}/edit`,
      deliveries,
      delivery!,
      "/settings/api-keys",
      "/settings/account",
      "/settings/event-types",
    ]) {
      await inner.goto(`${EMBED}${path}`);
      await expect(frame.getByRole("heading", { level: 1 })).toBeVisible();
      const overflow = await inner.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect.soft(overflow, `horizontal overflow of ${path} at 360 px`).toBeLessThanOrEqual(0);
      await shot(page, info, `embedded-360${path.replace(/[^a-z0-9]+/g, "-")}`);
    }

    // The link worked once: opened again (here, at the top level) it is a clear page, no log-in.
    const again = await page.goto(link.body.url);
    expect(again?.status()).toBe(410);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("This log-in link has already been used");
    await expectNoViolations(page, info, "link-used");
  } finally {
    await host?.close();
    await receiver.close();
  }
});

test("no other site can frame the pages", async ({ page }, info) => {
  const refusals: string[] = [];
  page.on("console", (m) => {
    if (m.text().includes("frame-ancestors") || m.text().includes("X-Frame-Options")) refusals.push(m.text());
  });
  // The embedding server framed by a site not on its list.
  let host = await hostPage(OTHER_PORT, `${EMBED}/login`);
  try {
    await page.goto(`http://localhost:${OTHER_PORT}/`);
    const frame = await childFrame(page);
    await expect.poll(() => refusals.length).toBeGreaterThan(0);
    expect(refusals[0]).toContain(`frame-ancestors ${PRODUCT}`);
    await expect(page.frameLocator("iframe").locator("main")).toHaveCount(0);
    expect(frame.url()).not.toContain(EMBED + "/login");
    await shot(page, info, "framing-refused");
  } finally {
    await host.close();
  }
  // The ordinary server (no frame ancestors configured) framed even by the product's origin.
  refusals.length = 0;
  host = await hostPage(PRODUCT_PORT, `${MAIN}/login`);
  try {
    await page.goto(`${PRODUCT}/`);
    await childFrame(page);
    await expect.poll(() => refusals.length).toBeGreaterThan(0);
    await expect(page.frameLocator("iframe").locator("main")).toHaveCount(0);
  } finally {
    await host.close();
  }
});
