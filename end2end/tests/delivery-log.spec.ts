import { expect, test } from "@playwright/test";
import { fillWebhook, hydrated, shot, signUp, startReceiver } from "./helpers";

test("the delivery log: open a test event, redeliver it, watch the new attempt appear", async ({ page }, info) => {
  const receiver = await startReceiver();
  try {
    await signUp(page);
    await page.goto("/settings/webhooks/create");
    await hydrated(page);
    await fillWebhook(page, "Logged", receiver.url, ["booking.created"]);
    await page.getByRole("button", { name: "Create webhook" }).click();
    await page.locator("tbody tr", { hasText: "Logged" }).getByRole("link", { name: "Logged" }).click();
    await hydrated(page);
    await page.getByRole("button", { name: "Send test event" }).click();
    await expect(page.locator(".outcome.succeeded")).toContainText("HTTP 200");

    // The chart counts it.
    await page.reload();
    await expect(page.locator(".chart figcaption")).toContainText("1 succeeded");
    await shot(page, info, "edit-with-chart");

    await page.getByRole("link", { name: "Delivery log", exact: true }).click();
    await expect(page).toHaveURL(/\/deliveries$/);
    await hydrated(page);
    const row = page.locator("tbody tr").first();
    await expect(row).toContainText("webhook.test");
    await expect(row).toContainText("Succeeded");
    await shot(page, info, "delivery-log");

    await row.getByRole("link").click();
    await expect(page).toHaveURL(/\/deliveries\/[0-9a-f-]{36}$/);
    await hydrated(page);
    await expect(page.locator("article.attempt")).toHaveCount(1);
    await expect(page.getByTestId("request-body")).toContainText('"event": "webhook.test"');
    await expect(page.getByText("x-webhook-signature", { exact: true })).toBeVisible();
    const url = page.url();

    await page.getByRole("button", { name: "Redeliver" }).click();
    // The new attempt shows up by itself: no reload, same page.
    await expect(page.locator("article.attempt")).toHaveCount(2, { timeout: 20_000 });
    await expect(page.locator("article.attempt").first()).toContainText("manual");
    await expect(page.locator("article.attempt").first()).toContainText("HTTP 200");
    expect(page.url()).toBe(url);
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1].headers["x-webhook-delivery-id"]).toBe(receiver.received[0].headers["x-webhook-delivery-id"]);
    await shot(page, info, "delivery-detail");
  } finally {
    await receiver.close();
  }
});
