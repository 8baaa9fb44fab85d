import { expect, Page, test } from "@playwright/test";
import { expectNoViolations, fillWebhook, hydrated, shot, signUp, startReceiver, uniqueEmail } from "./helpers";

test("every page, in every state a user meets, passes axe", async ({ page }, info) => {
  const receiver = await startReceiver();
  try {
    // Logged out: log-in (and its error), sign-up.
    await page.goto("/login");
    await hydrated(page);
    await expectNoViolations(page, info, "login");
    await page.getByLabel("E-mail").fill(uniqueEmail("nobody"));
    await page.getByLabel("Password").fill("wrong password here");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.locator(".error-text, .notice.error, [role=alert]").first()).toBeVisible();
    await expectNoViolations(page, info, "login-error");
    await page.goto("/signup");
    await hydrated(page);
    await expectNoViolations(page, info, "signup");

    // Logged in: the empty list, the create form with a field error, the list, edit.
    await signUp(page);
    await hydrated(page);
    await expectNoViolations(page, info, "list-empty");
    await page.goto("/settings/webhooks/create");
    await hydrated(page);
    await expectNoViolations(page, info, "create");
    await page.getByLabel("Name", { exact: true }).fill("Receiver");
    // A private address: refused by the server, next to the field (no request is made to it).
    await page.getByLabel("URL", { exact: true }).fill("https://10.0.0.5/hook");
    await page.getByRole("button", { name: "Create webhook" }).click();
    await expect(page.locator("#url-error")).not.toBeEmpty();
    await expect(page.getByLabel("URL", { exact: true })).toHaveAttribute("aria-invalid", "true");
    await expectNoViolations(page, info, "create-field-error");
    await fillWebhook(page, "Receiver", receiver.url, ["booking.created"]);
    await page.getByRole("button", { name: "Create webhook" }).click();
    await expect(page).toHaveURL(/\/settings\/webhooks$/);
    await hydrated(page);
    await expectNoViolations(page, info, "list");
    await page.locator("tbody tr", { hasText: "Receiver" }).getByRole("link", { name: "Receiver" }).click();
    await hydrated(page);
    await expectNoViolations(page, info, "edit");

    // After a test event: the edit page's outcome, the delivery log, one delivery.
    await page.getByRole("button", { name: "Send test event" }).click();
    await expect(page.locator(".outcome.succeeded")).toContainText("Delivered: HTTP 200");
    await expectNoViolations(page, info, "edit-after-test");
    await page.getByRole("link", { name: "Delivery log" }).first().click();
    await hydrated(page);
    await expect(page.locator("tbody tr")).toHaveCount(1);
    await expectNoViolations(page, info, "delivery-log");
    await page.locator("tbody tr").first().getByRole("link").first().click();
    await hydrated(page);
    await expect(page.getByRole("heading", { name: "Attempts" })).toBeVisible();
    await expectNoViolations(page, info, "delivery");

    // API keys, empty and with a key just created.
    await page.goto("/settings/api-keys");
    await hydrated(page);
    await expectNoViolations(page, info, "api-keys");
    await page.getByLabel("Name").fill("Booking app");
    await page.getByRole("button", { name: "Create key" }).click();
    await expect(page.getByTestId("new-api-key")).toHaveText(/^skw_/);
    await expectNoViolations(page, info, "api-keys-new-key");

    // The event catalog and the account's alert settings.
    await page.goto("/settings/event-types");
    await hydrated(page);
    await expect(page.getByRole("heading", { name: "Event types" })).toBeVisible();
    await expectNoViolations(page, info, "event-types");
    await page.goto("/settings/account");
    await hydrated(page);
    await expectNoViolations(page, info, "account");
  } finally {
    await receiver.close();
  }
});

/** Bytes received for the responses of one navigation (encoded: as they crossed the wire). */
async function transferred(
  page: Page,
  go: () => Promise<void>,
): Promise<{ bytes: number; wasm: string; wasmCache: string }> {
  const sizes: Promise<number>[] = [];
  let wasm = "";
  let wasmCache = "";
  const onFinished = (req: import("@playwright/test").Request) => {
    sizes.push(
      req.sizes().then((s) => s.responseBodySize + s.responseHeadersSize),
    );
  };
  const onResponse = (res: import("@playwright/test").Response) => {
    if (res.url().endsWith(".wasm")) {
      wasm = res.headers()["content-encoding"] ?? "identity";
      wasmCache = res.headers()["cache-control"] ?? "";
    }
  };
  page.on("requestfinished", onFinished);
  page.on("response", onResponse);
  await go();
  await hydrated(page);
  await page.waitForLoadState("networkidle");
  page.off("requestfinished", onFinished);
  page.off("response", onResponse);
  const all = await Promise.all(sizes);
  return { bytes: all.reduce((a, b) => a + b, 0), wasm, wasmCache };
}

test("a first view is light, a second one lighter (compressed, cached bundle)", async ({ page }) => {
  const first = await transferred(page, async () => {
    await page.goto("/login");
  });
  expect(first.wasm, "the WASM bundle is compressed").toMatch(/^(br|gzip)$/);
  expect(first.wasmCache).toBe("public, max-age=31536000, immutable");
  expect(first.bytes, `first view of /login: ${first.bytes} bytes`).toBeLessThanOrEqual(600 * 1024);
  const second = await transferred(page, async () => {
    await page.goto("/signup");
  });
  expect(second.bytes, `second view (/signup): ${second.bytes} bytes`).toBeLessThanOrEqual(60 * 1024);
  console.log(`transferred: first view ${first.bytes} bytes, second view ${second.bytes} bytes`);
});

test("the create form works from the keyboard alone", async ({ page }) => {
  const receiver = await startReceiver();
  try {
    await signUp(page);
    await page.goto("/settings/webhooks/create");
    await hydrated(page);
    // Tab from the top of the page to the first field: the header's links come first.
    const name = page.getByLabel("Name", { exact: true });
    for (let i = 0; i < 30 && !(await name.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press("Tab");
    }
    await expect(name).toBeFocused();
    await page.keyboard.type("Keyboard only");
    await page.keyboard.press("Tab");
    await expect(page.getByLabel("URL", { exact: true })).toBeFocused();
    await page.keyboard.type(receiver.url);
    // Then the format, the custom headers, the filter and the catalog links of the hints.
    for (const next of [
      page.getByLabel("Format"),
      page.getByLabel("Custom headers"),
      page.getByLabel("Filter"),
      page.locator("#filter-hint a"),
      page.getByRole("link", { name: "what each event carries" }),
    ]) {
      await page.keyboard.press("Tab");
      await expect(next).toBeFocused();
    }
    // The next stops are the event groups: a group's "all" box, then its events, in the order
    // shown. Space ticks the first group's "all" box, and so every event of the group.
    await page.keyboard.press("Tab");
    const all = page.locator("input[data-select-all]").first();
    await expect(all).toBeFocused();
    await page.keyboard.press("Tab");
    const first = page.locator('input[name="events[]"]').first();
    await expect(first).toBeFocused();
    await page.keyboard.press("Space");
    await expect(first).toBeChecked();
    // On to the submit button, which Enter presses.
    const submit = page.getByRole("button", { name: "Create webhook" });
    for (let i = 0; i < 40 && !(await submit.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press("Tab");
    }
    await expect(submit).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(/\/settings\/webhooks$/);
    await expect(page.locator("tbody tr", { hasText: "Keyboard only" })).toHaveCount(1);

    // The edit page: Reveal and the Delete disclosure, from the keyboard.
    await page.locator("tbody tr", { hasText: "Keyboard only" }).getByRole("link", { name: "Keyboard only" }).focus();
    await page.keyboard.press("Enter");
    await hydrated(page);
    await page.getByRole("link", { name: "Reveal" }).focus();
    await page.keyboard.press("Enter");
    // The masked form (whsec_••••) also starts with whsec_: wait for the revealed one.
    await expect(page.getByTestId("secret")).toHaveText(/^whsec_[A-Za-z0-9+/=]{44}$/);
    const secret = (await page.getByTestId("secret").textContent())!.trim();
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    const copy = page.getByRole("button", { name: "Copy" });
    await copy.focus();
    await page.keyboard.press("Enter");
    await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    const summary = page.locator("details summary", { hasText: /delete/i }).first();
    await summary.focus();
    await page.keyboard.press("Enter");
    const confirm = page.getByRole("button", { name: /delete/i }).last();
    await expect(confirm).toBeVisible();
    await confirm.focus();
    await page.keyboard.press("Enter");
    await expect(page).toHaveURL(/\/settings\/webhooks$/);
    await expect(page.locator("tbody tr", { hasText: "Keyboard only" })).toHaveCount(0);
  } finally {
    await receiver.close();
  }
});

