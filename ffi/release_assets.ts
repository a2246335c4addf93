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
    sha256: "5a8dc3431784448574bb3fcb9d199d67b779bc7fd12c137cf67238f19bc36d0d",
    bytes: 189016,
  },
  "aarch64-linux-gnu": {
    file: "libmod_alloc-aarch64-linux-gnu.so",
    sha256: "beb16e29d2a5057c57003c8bca8acddac4e2d31d32c6b6549ccdfc2434d5d65b",
    bytes: 176744,
  },
};
