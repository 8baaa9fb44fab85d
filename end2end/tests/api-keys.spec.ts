import { expect, test } from "@playwright/test";
import { hydrated, shot, signUp } from "./helpers";

test("an API key is shown once and can be revoked", async ({ page }, info) => {
  await signUp(page);
  await page.getByRole("link", { name: "API keys" }).click();
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  await hydrated(page);
  await page.getByLabel("Name").fill("Booking app");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = page.getByTestId("new-api-key");
  await expect(key).toHaveText(/^skw_[0-9a-f]{48}$/);
  await expect(page.locator("tbody tr", { hasText: "Booking app" })).toBeVisible();
  await shot(page, info, "api-keys");

  await page.reload();
  await expect(page.getByTestId("new-api-key")).toHaveCount(0);
  await page.getByText("Revoke…").click();
  await page.getByRole("button", { name: "Revoke now" }).click();
  await expect(page.locator("tbody tr", { hasText: "Booking app" })).toContainText("Revoked");
});
