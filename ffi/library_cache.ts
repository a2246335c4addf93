/**
 * The prebuilt library of a release: where it is cached, and its download.
 *
 * A copy is used only when its SHA-256 equals the digest pinned in
 * `release_assets.ts` (shipped with the module, never fetched): a cached
 * file is hashed again each time it is opened, a download is hashed before
 * it is written. Downloads are bounded (size and time) and land in the
 * cache through a private staging file created exclusively (never through a
 * planted symlink) and renamed into place, so a partial file is never seen.
 *
 * Cache directory: `MOD_ALLOC_CACHE_DIR`, else `$XDG_CACHE_HOME/mod-alloc`,
 * else `$HOME/.cache/mod-alloc`; inside it, `<version>/<file>`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { LibraryIntegrityError, LibraryNotFoundError } from "../types/errors.ts";
import { readEnvVar } from "./env.ts";
import { RELEASE_ASSETS, RELEASE_VERSION, type ReleaseAsset } from "./release_assets.ts";

/**
 * Where releases are published: `<url>/v<version>/<file>`. One constant;
 * `MOD_ALLOC_RELEASE_URL` replaces it (a mirror, or a local server in tests)
 * and then names the directory that holds this version's files directly.
 */
export const DEFAULT_RELEASE_BASE_URL = "https://github.com/mod-alloc/mod-alloc-deno/releases/download";

/** A download that takes longer than this is abandoned (a stalled server must not hang the host). */
const DOWNLOAD_TIMEOUT_MS = 120_000;

/** The target triple of this process, as the release names it. */
export function releaseTarget(): string {
  return `${Deno.build.arch}-linux-gnu`;
}

/** The asset for this platform, if the release ships one. */
export function releaseAsset(): ReleaseAsset | undefined {
  return RELEASE_ASSETS[releaseTarget()];
}

/** The cache directory, or why it cannot be named (missing `--allow-env`). */
export function cacheDirectory(): { path?: string; problem?: string } {
  const explicit = readEnvVar("MOD_ALLOC_CACHE_DIR");
  if (explicit.value !== undefined) return { path: explicit.value };
  const xdg = readEnvVar("XDG_CACHE_HOME");
  if (xdg.value !== undefined) return { path: `${xdg.value}/mod-alloc` };
  const home = readEnvVar("HOME");
  if (home.value !== undefined) return { path: `${home.value}/.cache/mod-alloc` };
  if (explicit.denied || home.denied) {
    return {
      problem: "the cache directory could not be named: grant --allow-env=MOD_ALLOC_CACHE_DIR,XDG_CACHE_HOME,HOME " +
        "(or set MOD_ALLOC_CACHE_DIR and grant --allow-env for it)",
    };
  }
  return { problem: "the cache directory could not be named: set MOD_ALLOC_CACHE_DIR (HOME is unset)" };
}

/** Lowercase hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The path a verified copy of `asset` has in `directory`. */
export function cachedPath(directory: string, asset: ReleaseAsset): string {
  return `${directory}/${RELEASE_VERSION}/${asset.file}`;
}

/**
 * The cached copy if it exists and its digest is the pinned one.
 *
 * @returns The path, or a line saying why no copy can be used.
 * @throws {Deno.errors.NotCapable} when `--allow-read` does not cover the cache.
 */
export function verifiedCachedCopy(directory: string, asset: ReleaseAsset): { path?: string; problem?: string } {
  const path = cachedPath(directory, asset);
  let bytes: Uint8Array;
  try {
    const info = Deno.lstatSync(path);
    if (!info.isFile) return { problem: `${path} is not a regular file; remove it` };
    bytes = Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return { problem: `${path}: not downloaded yet` };
    }
    throw error;
  }
  const actual = sha256Hex(bytes);
  if (actual !== asset.sha256) {
    return { problem: `${path} has SHA-256 ${actual}, not the pinned ${asset.sha256}; it is ignored` };
  }
  return { path };
}

/** The URL this version's asset is downloaded from. */
export function assetUrl(asset: ReleaseAsset): string {
  const base = readEnvVar("MOD_ALLOC_RELEASE_URL").value;
  const directory = base !== undefined ? base.replace(/\/+$/, "") : `${DEFAULT_RELEASE_BASE_URL}/v${RELEASE_VERSION}`;
  return `${directory}/${asset.file}`;
}

async function fetchBounded(url: string, asset: ReleaseAsset): Promise<Uint8Array> {
  const response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new LibraryNotFoundError(
      `Downloading the mod-alloc library failed: ${url} answered ${response.status} ${response.statusText}. ` +
        `Check MOD_ALLOC_RELEASE_URL, or set MOD_ALLOC_LIB to a library you built (bash tools/dev.sh build).`,
    );
  }
  const bytes = new Uint8Array(asset.bytes);
  let received = 0;
  const reader = response.body.getReader();
  const progress = Deno.stderr.isTerminal();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > asset.bytes) {
      await reader.cancel();
      throw new LibraryIntegrityError(
        `Refused the mod-alloc library from ${url}: it is larger than the pinned ${asset.bytes} bytes. ` +
          `Nothing was cached. Check MOD_ALLOC_RELEASE_URL points at release v${RELEASE_VERSION}.`,
      );
    }
    bytes.set(value, received);
    received += value.length;
    if (progress) {
      Deno.stderr.writeSync(new TextEncoder().encode(`\rmod-alloc: downloading ${asset.file}: ${received} B`));
    }
  }
  if (progress) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  return bytes.subarray(0, received);
}

/** Writes `bytes` to `path` through an exclusive private staging file and a rename. */
function writeCacheFile(path: string, bytes: Uint8Array): void {
  const directory = path.slice(0, path.lastIndexOf("/"));
  Deno.mkdirSync(directory, { recursive: true, mode: 0o700 });
  const staging = `${directory}/.${crypto.randomUUID()}.tmp`;
  // createNew is O_CREAT|O_EXCL: it fails on any existing name, a symlink included.
  const file = Deno.openSync(staging, { write: true, createNew: true, mode: 0o600 });
  try {
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    file.syncSync();
  } catch (error) {
    file.close();
    Deno.removeSync(staging);
    throw error;
  }
  file.close();
  try {
    Deno.renameSync(staging, path);
  } catch (error) {
    Deno.removeSync(staging);
    throw error;
  }
}

/**
 * Downloads this platform's asset, checks its digest and stores it in the cache.
 *
 * @returns The cached path.
 * @throws {LibraryIntegrityError} when the bytes are not the pinned ones (nothing is written).
 * @throws {Deno.errors.NotCapable} when `--allow-net` or `--allow-write` is missing.
 */
export async function downloadToCache(directory: string, asset: ReleaseAsset): Promise<string> {
  const url = assetUrl(asset);
  Deno.stderr.writeSync(
    new TextEncoder().encode(`mod-alloc: downloading ${asset.file} (${asset.bytes} B) from ${url}\n`),
  );
  const bytes = await fetchBounded(url, asset);
  const actual = sha256Hex(bytes);
  if (actual !== asset.sha256) {
    throw new LibraryIntegrityError(
      `Refused the mod-alloc library from ${url}: SHA-256 ${actual}, expected ${asset.sha256} ` +
        `(pinned in release v${RELEASE_VERSION}). Nothing was cached. The server or a proxy altered the file: ` +
        `check MOD_ALLOC_RELEASE_URL, or set MOD_ALLOC_LIB to a library you built.`,
    );
  }
  const path = cachedPath(directory, asset);
  writeCacheFile(path, bytes);
  return path;
}
