import { expect, test } from "@playwright/test";
import { PASSWORD, shot, uniqueEmail } from "./helpers";

test.use({ javaScriptEnabled: false });

test("the create form works with JavaScript disabled", async ({ page }, info) => {
  const email = uniqueEmail("nojs");
  // A logged-out visitor is sent to log in, then back to where they were going.
  await page.goto("/settings/webhooks/create");
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Fwebhooks%2Fcreate/);
  await page.getByRole("main").getByRole("link", { name: "Sign up" }).click();
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks\/create$/);

  // Invalid: the page comes back with the error and the input.
  await page.getByLabel("Name", { exact: true }).fill("Without JS");
  await page.getByLabel("URL", { exact: true }).fill("https://nojs.example.com/hook");
  await page.getByRole("button", { name: "Create webhook" }).click();
  await expect(page.locator("#events-error")).toContainText("Choose at least one event.");
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("Without JS");
  await expect(page.getByLabel("URL", { exact: true })).toHaveValue("https://nojs.example.com/hook");
  await shot(page, info, "no-js-error");

  await page.locator('input[value="booking.created"]').check();
  await page.getByRole("button", { name: "Create webhook" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  await expect(page.locator("tbody tr", { hasText: "Without JS" })).toContainText("Active");
  await shot(page, info, "no-js-list");

  // Log out and back in.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/settings/webhooks");
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByText("Incorrect e-mail or password.")).toBeVisible();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  await expect(page.locator("tbody tr", { hasText: "Without JS" })).toBeVisible();
});
