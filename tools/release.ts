/**
 * `deno task release`: builds the library for every release target with
 * `zig build release`, copies it into `dist/` as
 * `libmod_alloc-<target>.so`, writes `dist/manifest.json` (version, files,
 * SHA-256, sizes) and pins the digests in `ffi/release_assets.ts`, the
 * module a published version trusts (never a digest fetched from the same
 * server as the library).
 *
 * `--check`: build in a fresh temporary copy of the sources and fail when
 * the bytes differ from the pinned ones (the reproducibility test uses it).
 *
 * @module
 */

import { createHash } from "node:crypto";

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);

/** The targets `build.zig`'s release step builds. */
const TARGETS = ["x86_64-linux-gnu", "aarch64-linux-gnu"] as const;

interface Asset {
  target: string;
  file: string;
  sha256: string;
  bytes: number;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function zigBuildRelease(sourceDir: string, cacheDir?: string): Promise<void> {
  const args = ["build", "release", "--prefix", `${sourceDir}/zig-out`];
  if (cacheDir !== undefined) args.push("--cache-dir", cacheDir);
  const { code } = await new Deno.Command("zig", { args, cwd: sourceDir, stdout: "inherit", stderr: "inherit" })
    .output();
  if (code !== 0) throw new Error(`zig build release failed in ${sourceDir} (exit ${code})`);
}

function readAssets(sourceDir: string): Asset[] {
  return TARGETS.map((target) => {
    const bytes = Deno.readFileSync(`${sourceDir}/zig-out/release/${target}/libmod_alloc.so`);
    return { target, file: `libmod_alloc-${target}.so`, sha256: sha256Hex(bytes), bytes: bytes.length };
  });
}

function packageVersion(): string {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  if (typeof config.version !== "string") throw new Error("deno.json has no version");
  return config.version;
}

function pinnedModule(version: string, assets: Asset[]): string {
  const entries = assets.map((asset) =>
    `  "${asset.target}": {\n    file: "${asset.file}",\n    sha256: "${asset.sha256}",\n    bytes: ${asset.bytes},\n  },`
  ).join("\n");
  return `/**
 * The release this version of the module trusts: one prebuilt library per
 * platform, pinned by SHA-256. Written by \`deno task release\`
 * (tools/release.ts); do not edit by hand. A downloaded or cached library
 * whose digest differs is never opened.
 *
 * @module
 */

/** The package version the assets were built for. */
export const RELEASE_VERSION = "${version}";

/** One prebuilt library. */
export interface ReleaseAsset {
  /** File name on the release server and in the cache. */
  file: string;
  /** Lowercase hex SHA-256 of the file. */
  sha256: string;
  /** Size of the file in bytes. */
  bytes: number;
}

/** The prebuilt libraries, by target triple. */
export const RELEASE_ASSETS: Readonly<Record<string, ReleaseAsset>> = {
${entries}
};
`;
}

/** Copies the checkout's files (tracked, and new ones not ignored) into `dir`. */
async function copyCheckout(dir: string): Promise<void> {
  const { stdout } = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: rootPath,
  }).output();
  const files = new TextDecoder().decode(stdout).split("\0").filter((file) => file !== "");
  for (const file of files) {
    const slash = file.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(`${dir}/${file.slice(0, slash)}`, { recursive: true });
    const info = Deno.lstatSync(`${rootPath}${file}`);
    if (info.isSymlink) Deno.symlinkSync(Deno.readLinkSync(`${rootPath}${file}`), `${dir}/${file}`);
    else if (info.isFile) Deno.copyFileSync(`${rootPath}${file}`, `${dir}/${file}`);
  }
}

async function check(): Promise<number> {
  const { RELEASE_ASSETS } = await import("../ffi/release_assets.ts");
  const scratch = Deno.makeTempDirSync({ prefix: "mod-alloc-release-" });
  try {
    const sourceDir = `${scratch}/a/checkout at another path`;
    Deno.mkdirSync(sourceDir, { recursive: true });
    await copyCheckout(sourceDir);
    await zigBuildRelease(sourceDir, `${scratch}/cache`);
    let failures = 0;
    for (const asset of readAssets(sourceDir)) {
      const pinned = RELEASE_ASSETS[asset.target];
      const same = pinned?.sha256 === asset.sha256 && pinned.bytes === asset.bytes;
      console.log(`${same ? "same" : "DIFFERENT"} ${asset.target} ${asset.sha256} (pinned ${pinned?.sha256})`);
      if (!same) failures++;
    }
    if (failures > 0) {
      console.error("The sources build to other bytes than ffi/release_assets.ts pins: run `deno task release`.");
    }
    return failures === 0 ? 0 : 1;
  } finally {
    Deno.removeSync(scratch, { recursive: true });
  }
}

async function release(): Promise<number> {
  await zigBuildRelease(rootPath);
  const version = packageVersion();
  const assets = readAssets(rootPath);
  const dist = `${rootPath}dist`;
  Deno.mkdirSync(dist, { recursive: true });
  for (const asset of assets) {
    Deno.copyFileSync(`${rootPath}zig-out/release/${asset.target}/libmod_alloc.so`, `${dist}/${asset.file}`);
  }
  const manifest = { version, assets };
  Deno.writeTextFileSync(`${dist}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
  Deno.writeTextFileSync(`${rootPath}ffi/release_assets.ts`, pinnedModule(version, assets));
  for (const asset of assets) console.log(`${asset.file}  ${asset.bytes} B  sha256 ${asset.sha256}`);
  console.log(`wrote dist/ and ffi/release_assets.ts for version ${version}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(Deno.args.includes("--check") ? await check() : await release());
}
