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
    sha256: "c09402306f37e28fd26abcac898d601150a829b79280c91fddd8a5cad445229a",
    bytes: 123992,
  },
  "aarch64-linux-gnu": {
    file: "libmod_alloc-aarch64-linux-gnu.so",
    sha256: "f00e5e46ef808b8ef7772bc377d37fe337e8ce0530dccf8836f07a003870a6e5",
    bytes: 115656,
  },
};
