// Signing in through an identity provider in a real browser (Debian's Chromium, headless): a page of
// Lore sends the browser to its sign-in page, the provider's button leads to the provider's login
// form, the browser comes back signed in to the page it wanted, searches as its user, signs out.
//
//   node signin.mjs <base-url> <artifacts-dir> <user> <word only the user may read>
//
// Exits non-zero with the failed step on stderr.
import { join } from "node:path";
import { args, check, launch } from "./common.mjs";

const [base, artifacts, user, readable] = args("node signin.mjs <base-url> <artifacts-dir> <user> <word>", 4);
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(60_000);

  // 1. A page without a session: off to the sign-in page, which offers the provider.
  await page.goto(base + "/?q=codeword");
  await page.waitForURL((url) => url.pathname === "/signin");
  const button = page.getByRole("link", { name: "Sign in with Corp Login" });
  await button.focus();
  await page.keyboard.press("Enter");
  console.log("sign-in page: the provider's button works from the keyboard");

  // 2. The provider's own login form.
  await page.getByLabel("User name").fill(user);
  await page.getByRole("button", { name: "Continue" }).click();

  // 3. Back at Lore, on the page it wanted, signed in, finding what only this user reads.
  await page.waitForURL((url) => url.origin === base && url.pathname === "/");
  check(new URL(page.url()).searchParams.get("q") === "codeword", `landed on ${page.url()}`);
  const menu = await page.locator(".user-menu").textContent();
  check(menu.includes("Signed in as"), `no user menu: ${menu}`);
  await page.waitForSelector(".hit");
  const hits = await page.locator(".hit").allTextContents();
  check(hits.join(" ").includes(readable), `"${readable}" is not among the results: ${hits}`);
  await page.screenshot({ path: join(artifacts, "signed-in.png"), fullPage: true });
  console.log(`signed in: ${menu.replace(/\s+/g, " ").trim()}; ${hits.length} results`);

  // 4. Signing out ends the session: pages need a sign-in again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((url) => url.pathname === "/signin");
  await page.goto(base + "/");
  await page.waitForURL((url) => url.pathname === "/signin");
  console.log("signed out");
} finally {
  await browser.close();
}
