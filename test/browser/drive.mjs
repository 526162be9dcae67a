// Runs page.ts in Debian's headless Chromium through playwright-core and
// writes what happened to standard output, one JSON object a line, for
// browser_test.go to read as it happens:
//   the page's own steps ({"step": "created" | "snapshot" | "watch" | "error" | "done", ...}),
//   {"step": "request", method, url, contentType, body} for each request to another origin,
//   {"step": "response", url, status, contentType, body} for each unary answer from another origin
//   (a stream's body is left out: it ends only when the stream does),
//   {"step": "requestfailed", url, error}, {"step": "console", type, text} for the
//   browser's other console messages (CORS refusals among them), {"step": "pageerror", message}.
// It exits 0 once the page reports "done", and 1 when it never does.
//
// Usage: node drive.mjs PAGE_URL   (CHROMIUM overrides /usr/bin/chromium)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

const pageURL = process.argv[2];
if (!pageURL) {
  console.error("usage: node drive.mjs PAGE_URL");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
// The page gives up on the watch after 60 s; this is only a backstop.
const timeoutMs = 90_000;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const pageOrigin = new URL(pageURL).origin;
// An empty profile of its own, as TESTING.md says; removed at the end.
const userDataDir = await mkdtemp(join(tmpdir(), "otterscale-chromium-"));
let context;
let code = 1;

// The test ends a run it gives up on with SIGTERM: close Chromium and
// remove the profile then too (playwright's own handler would exit first).
async function cleanUp() {
  await context?.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true });
}
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => cleanUp().finally(() => process.exit(1)));
}

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    handleSIGTERM: false,
    handleSIGINT: false,
    // The flags with which Chromium starts cleanly on a machine without
    // internet (TESTING.md); playwright adds --headless and the profile.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());

  let finished;
  const done = new Promise((resolve) => (finished = resolve));
  page.on("console", (msg) => {
    const text = msg.text();
    if (msg.type() === "log") {
      try {
        const step = JSON.parse(text);
        if (step && typeof step.step === "string") {
          emit(step);
          if (step.step === "done") finished();
          return;
        }
      } catch {
        // not one of the page's steps
      }
    }
    emit({ step: "console", type: msg.type(), text });
  });
  page.on("pageerror", (err) => emit({ step: "pageerror", message: String(err) }));
  page.on("request", (req) => {
    if (new URL(req.url()).origin === pageOrigin) return;
    emit({
      step: "request",
      method: req.method(),
      url: req.url(),
      contentType: req.headers()["content-type"] ?? "",
      body: req.postData() ?? "",
    });
  });
  page.on("response", async (res) => {
    if (new URL(res.url()).origin === pageOrigin) return;
    const contentType = res.headers()["content-type"] ?? "";
    let body = "";
    if (contentType.startsWith("application/json")) {
      body = await res.text().catch((err) => `(body unreadable: ${err})`);
    }
    emit({ step: "response", url: res.url(), status: res.status(), contentType, body });
  });
  page.on("requestfailed", (req) => emit({ step: "requestfailed", url: req.url(), error: req.failure()?.errorText ?? "" }));

  await page.goto(pageURL);
  let timer;
  const timedOut = new Promise((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
  if (await Promise.race([done.then(() => false), timedOut])) {
    console.error(`drive.mjs: the page did not finish within ${timeoutMs / 1000} s`);
  } else {
    code = 0;
  }
  clearTimeout(timer);
} catch (err) {
  console.error(`drive.mjs: ${err?.stack ?? err}`);
} finally {
  await cleanUp();
}
process.exit(code);
