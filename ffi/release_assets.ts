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
    sha256: "41edb12c076b71096926c8af7b2665d5a844ddba62116868bbf451e448031950",
    bytes: 203480,
  },
  "aarch64-linux-gnu": {
    file: "libmod_alloc-aarch64-linux-gnu.so",
    sha256: "8d630782bf68b69a57cc59dfc0d6848351b590a46d2587040f3057c9e30f9a0e",
    bytes: 190448,
  },
};
