// What every browser script shares: its arguments, a failing check, and Debian's Chromium launched
// headless (playwright-core, no browser download).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

// The script's arguments, named; exits with the usage line when one is missing. The second one is
// always the artifacts folder, made here.
export function args(usage, count) {
  const values = process.argv.slice(2);
  if (values.length < count || values.slice(0, count).some((v) => !v)) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  mkdirSync(values[1], { recursive: true });
  return values;
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export function launch() {
  const executablePath = process.env.LORE_CHROMIUM || "/usr/bin/chromium";
  return chromium.launch({ executablePath, args: ["--no-sandbox"] });
}
