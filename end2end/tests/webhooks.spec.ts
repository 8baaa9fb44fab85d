import { expect, test } from "@playwright/test";
import { fillWebhook, hydrated, shot, signUp } from "./helpers";

test("sign up, create, list, edit and delete a webhook", async ({ page }, info) => {
  await signUp(page);
  await expect(page.getByRole("heading", { name: "No webhooks yet" })).toBeVisible();
  await shot(page, info, "01-list-empty");

  await page.getByRole("link", { name: "Create your first webhook" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks\/create$/);
  await hydrated(page);
  await expect(page.getByLabel("Timeout (seconds)")).toHaveValue("30");
  await expect(page.getByLabel("Retry attempts")).toHaveValue("3");
  await expect(page.locator('input[value="webhook.test"]')).toHaveCount(0);

  await fillWebhook(page, "CRM sync", "https://crm.example.com/hooks", ["booking.created"]);
  // "Select all" of a family ticks its three events.
  await page.locator('[data-select-all="payment"]').check();
  for (const e of ["payment.completed", "payment.failed", "payment.refunded"]) {
    await expect(page.locator(`input[value="${e}"]`)).toBeChecked();
  }
  // Pasting a chat app's address picks its format; another address puts it back.
  const format = page.getByLabel("Format");
  await expect(format).toHaveValue("standard");
  await page.getByLabel("URL", { exact: true }).fill("https://hooks.slack.com/services/T0/B0/x");
  await expect(format).toHaveValue("slack");
  await shot(page, info, "02-create-slack-format");
  await page.getByLabel("URL", { exact: true }).fill("https://crm.example.com/hooks");
  await expect(format).toHaveValue("standard");
  // A custom header for the CRM's API: its value is never shown again.
  await page.getByLabel("Custom headers").fill("Authorization: Bearer e2e-crm-value-91");
  await shot(page, info, "02-create-form");
  await page.getByRole("button", { name: "Create webhook" }).click();

  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  const row = page.locator("tbody tr", { hasText: "CRM sync" });
  await expect(row).toContainText("https://crm.example.com/hooks");
  await expect(row).toContainText("booking.created");
  await expect(row).toContainText("Active");
  await shot(page, info, "03-list");

  await row.getByRole("link", { name: "CRM sync" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks\/\d+\/edit$/);
  await hydrated(page);
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("CRM sync");
  await expect(page.locator('input[value="payment.failed"]')).toBeChecked();
  await expect(page.getByLabel("Custom headers")).toHaveValue("Authorization: ***");
  expect(await page.content()).not.toContain("e2e-crm-value-91");
  await shot(page, info, "04-edit");
  await page.getByLabel("Name", { exact: true }).fill("CRM sync v2");
  await page.getByLabel("Active").uncheck();
  await page.getByLabel("Retry attempts").fill("5");
  await page.getByRole("button", { name: "Save changes" }).click();

  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  const edited = page.locator("tbody tr", { hasText: "CRM sync v2" });
  await expect(edited).toContainText("Paused");

  await edited.getByRole("link", { name: "CRM sync v2" }).click();
  await hydrated(page);
  await expect(page.getByLabel("Retry attempts")).toHaveValue("5");
  await page.getByText("Delete this webhook…").click();
  await page.getByRole("button", { name: "Yes, delete this webhook" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  await expect(page.getByRole("heading", { name: "No webhooks yet" })).toBeVisible();
});

test("validation errors appear next to their fields and keep the input", async ({ page }, info) => {
  await signUp(page);
  await page.goto("/settings/webhooks/create");
  await hydrated(page);
  await fillWebhook(page, "Keep me", "https://10.0.0.5/hook", []);
  await page.getByRole("button", { name: "Create webhook" }).click();

  await expect(page.locator("#url-error")).toContainText("private");
  await expect(page.locator("#events-error")).toContainText("Choose at least one event.");
  await expect(page.getByLabel("URL", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("Keep me");
  await expect(page.getByLabel("URL", { exact: true })).toHaveValue("https://10.0.0.5/hook");
  await expect(page).toHaveURL(/\/settings\/webhooks\/create$/);
  await shot(page, info, "validation");

  // Fixing the input creates the webhook.
  await fillWebhook(page, "Keep me", "https://hooks.example.com/in", ["event.created"]);
  await page.getByRole("button", { name: "Create webhook" }).click();
  await expect(page.locator("tbody tr", { hasText: "Keep me" })).toBeVisible();

  // A template: its fields show for the Template format; a variable the catalog does not have
  // is refused next to the field, with the template kept as typed.
  await page.goto("/settings/webhooks/create");
  await hydrated(page);
  await expect(page.getByTestId("template-fields")).toBeHidden();
  await fillWebhook(page, "CRM template", "https://crm.example.com/in", ["booking.created"]);
  await page.getByLabel("Format").selectOption("template");
  await expect(page.getByTestId("template-fields")).toBeVisible();
  const bad = '{"phone": {{ data.invitee.phone }}}';
  await page.getByLabel("Body template").fill(bad);
  // And a filter with a syntax error: both are told, each next to its field.
  await page.getByLabel("Filter").fill("data.duration >=");
  await page.getByRole("button", { name: "Create webhook" }).click();
  await expect(page.locator("#template-error")).toContainText("data.invitee.phone is not a field");
  await expect(page.locator("#filter-error")).toContainText("Line 1");
  await expect(page.getByLabel("Filter")).toHaveValue("data.duration >=");
  await expect(page.getByLabel("Body template")).toHaveValue(bad);
  await expect(page.getByLabel("Body template")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Format")).toHaveValue("template");
  await shot(page, info, "template-error");
  const good = '{"name": {{ data.invitee.name }}, "email": {{ data.invitee.email }}, "kind": {{ event }}}';
  await page.getByLabel("Body template").fill(good);
  await page.getByLabel("Filter").fill("data.duration >= 30");
  await page.getByRole("button", { name: "Create webhook" }).click();
  const row = page.locator("tbody tr", { hasText: "CRM template" });
  await expect(row).toBeVisible();

  // The edit page previews the request exactly as it would be sent, for the chosen example.
  await row.getByRole("link", { name: "CRM template" }).click();
  await hydrated(page);
  await expect(page.getByLabel("Body template")).toHaveValue(good);
  const preview = page.getByTestId("request-preview");
  await preview.getByLabel("Event").selectOption("example:booking.created");
  await preview.getByRole("button", { name: "Preview" }).click();
  await expect(page).toHaveURL(/preview=example%3Abooking.created/);
  const body = page.getByTestId("preview-body");
  await expect(body).toHaveText('{"name": "Jane Smith", "email": "jane@example.com", "kind": "booking.created"}');
  await expect(page.getByTestId("preview-headers")).toContainText(/x-webhook-signature: [0-9a-f]{64}/);
  await expect(page.getByTestId("preview-headers")).toContainText("content-type: application/json");
  await preview.scrollIntoViewIfNeeded();
  await shot(page, info, "template-preview");
  await info.attach("template-preview", { body: await page.screenshot({ fullPage: true }), contentType: "image/png" });
});

test("the signing secret can be revealed and rotated", async ({ page }, info) => {
  await signUp(page);
  await page.goto("/settings/webhooks/create");
  await hydrated(page);
  await fillWebhook(page, "Secrets", "https://hooks.example.com/s", ["booking.confirmed"]);
  await page.getByRole("button", { name: "Create webhook" }).click();
  await page.locator("tbody tr", { hasText: "Secrets" }).getByRole("link", { name: "Secrets" }).click();
  await hydrated(page);

  const secret = page.getByTestId("secret");
  await expect(secret).toContainText("whsec_••••");
  await page.getByRole("link", { name: "Reveal" }).click();
  await expect(secret).toHaveText(/^whsec_[A-Za-z0-9+/=]{44}$/);
  const first = await secret.textContent();
  await expect(page).not.toHaveURL(/reveal=1/);
  await shot(page, info, "secret-revealed");

  await page.getByRole("button", { name: "Rotate secret" }).click();
  await expect(page.getByText("The previous secret also signs until")).toBeVisible();
  await page.getByRole("link", { name: "Reveal" }).click();
  await expect(secret).toHaveText(/^whsec_[A-Za-z0-9+/=]{44}$/);
  expect(await secret.textContent()).not.toEqual(first);
});
