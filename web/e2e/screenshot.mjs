// The README's screenshot: searches and asks a question on a running Lore and captures the page once
// the checked answer is in.   node screenshot.mjs <base-url> <question> <output.png>
import { chromium } from "playwright-core";

const [base, question, output] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.LORE_CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 860 }, deviceScaleFactor: 1 });
  page.setDefaultTimeout(300_000);
  await page.goto(base + "/?q=" + encodeURIComponent(question));
  await page.waitForSelector(".hit");
  await page.click("#ask-button");
  await page.waitForFunction(() => /Checked against the documents|No answer/.test(document.getElementById("answer-status").innerText));
  await page.screenshot({ path: output });
} finally {
  await browser.close();
}
