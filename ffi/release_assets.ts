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
    sha256: "fec7e1f598326c4573be1fca621e5d309a4bbc8ce3d4deeaf7c2b4fbea376910",
    bytes: 187224,
  },
  "aarch64-linux-gnu": {
    file: "libmod_alloc-aarch64-linux-gnu.so",
    sha256: "8b24cc74ca4111c2142a76e6b3c5995f38ee6e992568c82fdf81f984eb4801c0",
    bytes: 174992,
  },
};
