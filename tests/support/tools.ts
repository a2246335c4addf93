// External tools the tests use when installed (tools/system_packages.sh
// installs them): valgrind, chromium. A test that needs a missing one is
// ignored (reported as such), never passed.
export function hasCommand(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

export const DH_VIEW_DIR = "/usr/libexec/valgrind";

export function hasDhView(): boolean {
  try {
    return Deno.statSync(`${DH_VIEW_DIR}/dh_view.js`).isFile;
  } catch {
    return false;
  }
}

/** Flags the headless browser needs on this network-less machine. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function chromium(args: string[]): Promise<Deno.CommandOutput> {
  const profile = await Deno.makeTempDir({ prefix: "mod-alloc-chromium-" });
  try {
    return await new Deno.Command("chromium", {
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/** The DOM of a page after its scripts ran (virtual time budget 10 s). */
export async function renderedDom(url: string): Promise<string> {
  const output = await chromium(["--virtual-time-budget=10000", "--dump-dom", url]);
  return new TextDecoder().decode(output.stdout);
}

/** A PNG screenshot of a page. */
export async function screenshot(url: string, png: string, size = "1280,900"): Promise<void> {
  await chromium([`--screenshot=${png}`, `--window-size=${size}`, "--virtual-time-budget=5000", url]);
}

/** The visible text of an HTML document, tags removed. */
export function textOf(html: string): string {
  return html.replace(/<[^>]+>/g, " ").replaceAll("&nbsp;", " ").replaceAll("&amp;", "&").replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">");
}
