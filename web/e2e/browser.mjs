// Lore in a real browser (Debian's Chromium, headless): search, see highlighted results, ask, watch the
// answer stream in, click its citation, land on the highlighted passage; then add a folder on the admin
// page and watch its ingestion progress live. Screenshots go to the artifacts folder.
//
//   node browser.mjs <base-url> <artifacts-dir> <folder-to-add>
//
// Exits non-zero with the failed step on stderr.
import { join } from "node:path";
import { args, check, launch } from "./common.mjs";

const [base, artifacts, folder] = args("node browser.mjs <base-url> <artifacts-dir> <folder-to-add>", 3);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(120_000);
  const failures = [];
  page.on("pageerror", (error) => failures.push(error.message));
  page.on("console", (message) => { if (message.type() === "error") failures.push(message.text()); });

  // 1. Search: results with the query words highlighted.
  await page.goto(base + "/");
  await page.fill("#q", "canteen soup");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".hit");
  const marked = await page.locator(".hit .snippet mark").allTextContents();
  check(marked.map((m) => m.toLowerCase()).includes("soup"), `no highlighted "soup" in the snippets: ${marked}`);
  console.log(`search: ${await page.locator(".hit").count()} results, highlighted: ${marked.join(", ")}`);

  // 2. Ask: tokens stream into the panel, then the checked answer with a citation link.
  await page.fill("#q", "On which day does the canteen serve soup?");
  await page.evaluate(() => {
    window.__draftUpdates = 0;
    const text = document.getElementById("answer-text");
    new MutationObserver(() => {
      if (text.classList.contains("draft") && text.textContent) window.__draftUpdates += 1;
    }).observe(text, { childList: true, characterData: true, subtree: true });
  });
  await page.click("#ask-button");
  await page.waitForSelector("#answer-text a.cite");
  const updates = await page.evaluate(() => window.__draftUpdates);
  check(updates >= 2, `the answer did not stream (the draft changed ${updates} times)`);
  const answer = await page.locator("#answer-text").innerText();
  console.log(`answer (${updates} streamed updates): ${answer}`);
  // The best evidence sentence is shown from the documents, with a link to its place.
  check(await page.locator("#answer-evidence").isVisible(), "the best evidence sentence is not shown");
  const evidence = await page.locator("#answer-evidence-text").innerText();
  check(/soup/i.test(evidence), `the best evidence does not mention soup: ${evidence}`);
  const evidenceLink = await page.locator("#answer-evidence-source").getAttribute("href");
  check(/^\/documents\/\d+\?start=\d+&end=\d+#cited$/.test(evidenceLink), `bad evidence link ${evidenceLink}`);
  console.log(`best evidence: ${evidence}`);
  await page.screenshot({ path: join(artifacts, "answer.png"), fullPage: true });

  // 3. The citation opens the document view with the cited passage highlighted and in view.
  await page.locator("#answer-text a.cite").first().click();
  await page.waitForURL(/\/documents\/\d+\?start=\d+&end=\d+#cited/);
  const cited = page.locator("mark#cited");
  await cited.waitFor();
  const box = await cited.boundingBox();
  const viewport = page.viewportSize();
  check(box && box.y >= 0 && box.y < viewport.height, `the cited passage is not in view: ${JSON.stringify(box)}`);
  console.log(`cited passage: ${await cited.innerText()}`);
  await page.screenshot({ path: join(artifacts, "document.png") });

  // 4. Admin: add a folder and watch its sync progress live, without reloading.
  await page.goto(base + "/admin");
  await page.fill("#path", folder);
  await page.fill("#name", "e2e-notes");
  await page.click("form.add-source button[type=submit]");
  await page.waitForURL(/\/admin\?notice=/);
  await page.waitForFunction(() => /sync e2e-notes completed/.test(document.getElementById("ingest-live").innerText), null, { timeout: 120_000 });
  await page.waitForSelector("text=e2e-notes");
  console.log(`admin: ${(await page.locator("#ingest-live").innerText()).split("\n")[0]}`);
  await page.screenshot({ path: join(artifacts, "admin.png"), fullPage: true });

  // 5. A phone-sized window: the layout still works (no horizontal scrolling).
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(base + "/?q=printer+toner");
  await phone.waitForSelector(".hit");
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the phone layout scrolls sideways by ${overflow}px`);
  await phone.screenshot({ path: join(artifacts, "phone.png"), fullPage: true });

  check(failures.length === 0, `the pages logged errors: ${failures.join(" | ")}`);
  console.log(`screenshots in ${artifacts}`);
} finally {
  await browser.close();
}
