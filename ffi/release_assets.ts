/**
 * The release this version of the module trusts: one prebuilt library per
 * platform, pinned by SHA-256. Written by `deno task release`
 * (tools/release.ts); do not edit by hand. A downloaded or cached library
 * whose digest differs is never opened.
 *
 * @module
 */

/** The package version the assets were built for. */
export const RELEASE_VERSION = "0.1.0";

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
  "x86_64-linux-gnu": {
    file: "libmod_alloc-x86_64-linux-gnu.so",
    sha256: "d85c5e7ba322f2858eaf07a9704c4a18f7c2f78f93c9871a2bb26a5ee3c2223f",
    bytes: 115800,
  },
  "aarch64-linux-gnu": {
    file: "libmod_alloc-aarch64-linux-gnu.so",
    sha256: "fbbaf6e4d8102f8270467034320fdc4ef3c48dcedadad6b41cd6071bd7f1f4ca",
    bytes: 110408,
  },
};
