import { defineConfig, devices } from "@playwright/test";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// A freshly built server (`cargo leptos build`, see the Makefile) on a throw-away SQLite
// database, on a port of its own.
const port = Number(process.env.SKW_E2E_PORT ?? 3300);
const bin = process.env.SKW_E2E_BIN ?? path.resolve(__dirname, "../target/debug/schedulingkit-webhooks");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "skw-e2e-"));
// A second server for embedding (embed.spec.ts): framable by the product's origin
// (http://localhost:<port + 11>, another site than 127.0.0.1) and no other, password log-in off.
// Its database is named in the environment, which the test workers inherit, so that the spec
// can make an operator key in it with the CLI.
const embedPort = port + 10;
process.env.SKW_E2E_EMBED_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), "skw-e2e-embed-"));
process.env.SKW_E2E_EMBED_PORT = String(embedPort);
process.env.SKW_E2E_BIN_PATH = bin;
const embedDir = process.env.SKW_E2E_EMBED_DIR;
const serverEnv = {
  SKW_LOG: "warn",
  SKW_METRICS_ADDR: "127.0.0.1:0",
  LEPTOS_SITE_ROOT: path.resolve(__dirname, "../target/site"),
  // The tests' receiver listens on loopback over plain http.
  SKW_ALLOW_INSECURE_TARGETS: "1",
  // Tests never query DNS: their traffic stays on this machine.
  SKW_RESOLVE_ON_SAVE: "false",
};

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: true,
  // One spec at a time against the shared server: in a clean-clone CI run, recovery.spec's two
  // held events did not arrive within 30 s while other specs ran beside it (never seen alone or
  // locally); until that is understood, the specs do not share the server's dispatcher.
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: [
    {
      // Only `migrate` changes the schema: `serve` refuses a database that is not migrated.
      command: `"${bin}" migrate && "${bin}" serve`,
      url: `http://127.0.0.1:${port}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        ...serverEnv,
        DATABASE_URL: `sqlite://${dataDir}/e2e.db`,
        SKW_SECRET_KEY_FILE: `${dataDir}/secret.key`,
        SKW_ADDR: `127.0.0.1:${port}`,
        SKW_PUBLIC_URL: `http://127.0.0.1:${port}`,
      },
    },
    {
      command: `"${bin}" migrate && "${bin}" serve`,
      url: `http://127.0.0.1:${embedPort}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        ...serverEnv,
        DATABASE_URL: `sqlite://${embedDir}/embed.db`,
        SKW_SECRET_KEY_FILE: `${embedDir}/secret.key`,
        SKW_ADDR: `127.0.0.1:${embedPort}`,
        SKW_PUBLIC_URL: `http://127.0.0.1:${embedPort}`,
        SKW_FRAME_ANCESTORS: `http://localhost:${embedPort + 1}`,
        SKW_RETURN_ORIGINS: `http://localhost:${embedPort + 1}`,
        SKW_PRODUCT_NAME: "Acme Scheduling",
        SKW_ACCENT_COLOR: "#0a6b3d",
        SKW_PASSWORD_LOGIN: "off",
      },
    },
  ],
});
