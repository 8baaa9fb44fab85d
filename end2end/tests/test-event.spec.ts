import { expect, test } from "@playwright/test";
import { expectedSignature, fillWebhook, hydrated, shot, signUp, startReceiver } from "./helpers";

test("Send test event shows the receiver's 200 without a reload", async ({ page }, info) => {
  const receiver = await startReceiver();
  try {
    await signUp(page);
    await page.goto("/settings/webhooks/create");
    await hydrated(page);
    await fillWebhook(page, "Local receiver", receiver.url, ["booking.created"]);
    await page.getByRole("button", { name: "Create webhook" }).click();
    await page.locator("tbody tr", { hasText: "Local receiver" }).getByRole("link", { name: "Local receiver" }).click();
    await hydrated(page);
    const editUrl = page.url();

    let navigations = 0;
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) navigations++;
    });
    await page.getByRole("button", { name: "Send test event" }).click();
    const outcome = page.locator(".outcome.succeeded");
    await expect(outcome).toContainText("Delivered: HTTP 200");
    await expect(outcome).toHaveAttribute("data-status", "200");
    expect(navigations).toBe(0);
    expect(page.url()).toBe(editUrl);
    await shot(page, info, "test-event");

    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0];
    expect(got.headers["x-webhook-event"]).toBe("webhook.test");
    expect(got.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(got.body);
    expect(body.event).toBe("webhook.test");
    expect(body.data.invitee.name).toBe("Jane Smith");

    // The signature checks out with the secret the page reveals.
    await page.getByRole("link", { name: "Reveal" }).click();
    await expect(page.getByTestId("secret")).toHaveText(/^whsec_[A-Za-z0-9+/=]{44}$/);
    const secret = (await page.getByTestId("secret").textContent())!.trim();
    expect(got.headers["x-webhook-signature"]).toBe(expectedSignature(secret, got.body));
  } finally {
    await receiver.close();
  }
});
