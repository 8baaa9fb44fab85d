import AxeBuilder from "@axe-core/playwright";
import { expect, FrameLocator, Page, TestInfo } from "@playwright/test";
import * as crypto from "crypto";
import * as http from "http";
import { AddressInfo } from "net";

export const PASSWORD = "correct horse battery";

export function uniqueEmail(prefix = "owner"): string {
  return `${prefix}-${Date.now()}-${crypto.randomBytes(4).toString("hex")}@example.com`;
}

/** Waits until the WASM bundle has hydrated the page. */
export async function hydrated(page: Page): Promise<void> {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
}

/** Signs up a new account through the page; ends on the webhooks list. */
export async function signUp(page: Page, email = uniqueEmail()): Promise<string> {
  await page.goto("/signup");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page).toHaveURL(/\/settings\/webhooks$/);
  return email;
}

/** Saves a full-page screenshot under test-results/. */
export async function shot(page: Page, info: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: info.outputPath(`${name}.png`), fullPage: true });
}

export type Received = { headers: http.IncomingHttpHeaders; body: string; path: string };

/** A real HTTP receiver on loopback (port 0) that answers 200 and records every request. */
export async function startReceiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), path: req.url ?? "" });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("received");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    // Keep-alive connections from the dispatcher would hold close() until they idle out.
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** X-Webhook-Signature as a receiver computes it: hex HMAC-SHA256 of the raw body. */
export function expectedSignature(secret: string, body: string): string {
  return crypto.createHmac("sha256", secret).update(body).digest("hex");
}

/** Fills the webhook form (create or edit), on a page or inside a frame. */
export async function fillWebhook(page: Page | FrameLocator, name: string, url: string, events: string[]): Promise<void> {
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("URL", { exact: true }).fill(url);
  for (const e of events) {
    await page.locator(`input[name="events[]"][value="${e}"]`).check();
  }
}

/** WCAG 2.1 A and AA, and axe's best practices. */
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];

/** Fails on any axe violation of the page as it is now, naming each rule and element. */
export async function expectNoViolations(page: Page, info: TestInfo, state: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
  if (found.length > 0) {
    await shot(page, info, `axe-${state}`);
  }
  expect(found, `axe violations on ${state}`).toEqual([]);
}
