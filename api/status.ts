/**
 * The one check of the status codes that install, uninstall and configure
 * return: each failure becomes an {@linkcode InstallError} whose message
 * says what went wrong and what to do next.
 *
 * @module
 */

import { STATUS, type StatusName } from "../ffi/layout.ts";
import { InstallError } from "../types/errors.ts";

/** What a failure status means, and the user's next step. */
export interface StatusText {
  /** What went wrong, in words a user can act on. */
  problem: string;
  /** What to do about it. */
  nextStep: string;
}

type FailureName = { [K in StatusName]: typeof STATUS[K] extends 0 | 1 | 2 ? never : K }[StatusName];

const PRELOAD_HINT = "preload the library instead: LD_PRELOAD=/path/to/libmod_alloc.so deno run … " +
  '(see the README\'s "Preload" section)';

/** Every failure of `abi.Status`; `tests/status_test.ts` checks the list against `core/abi.zig`. */
export const FAILURE_TEXT: Readonly<Record<FailureName, StatusText>> = {
  patch_table_full: {
    problem: "the table of patched GOT slots is full: the process has more allocator imports than mod-alloc can record",
    nextStep: PRELOAD_HINT,
  },
  mprotect_failed: {
    problem: "mprotect refused to make a RELRO page writable, so the allocator imports could not be patched " +
      "(a seccomp or SELinux policy may forbid it)",
    nextStep: PRELOAD_HINT,
  },
  libc_not_found: {
    problem: "glibc's libc.so was not found among the loaded objects: mod-alloc wraps glibc's allocator only",
    nextStep: "run on a glibc-based Linux (Debian, Ubuntu, Fedora …); musl (Alpine) is not supported",
  },
  foreign_allocator: {
    problem: "the process does not use glibc's malloc (another allocator such as jemalloc is interposed), " +
      "so mod-alloc will not redirect its calls",
    nextStep: "run without the other allocator (check LD_PRELOAD), or measure with that allocator's own statistics",
  },
  invalid_option: {
    problem: "an option was out of range (frames must be 1-64, buckets 16-1048576)",
    nextStep: "fix the value passed to ModAlloc.install() or set in MOD_ALLOC_FRAMES / MOD_ALLOC_BUCKETS",
  },
  config_conflict: {
    problem: "call sites are already on with other settings or in the other mode (sampled with sampleBytes, or " +
      "every allocation; they stay as the first install set them, and cannot be turned off)",
    nextStep: "pass the same frames, buckets and sampleBytes as the first install, or leave them out to keep the " +
      "current ones; " +
      "to use other settings, start a new process",
  },
  out_of_memory: {
    problem: "the site table could not be mapped (out of memory or address space)",
    nextStep: "ask for fewer buckets ({ buckets } or MOD_ALLOC_BUCKETS; the default is 4096) or free memory",
  },
};

/** The message of a failure status, or of a code this module does not know. */
export function statusText(status: number): StatusText {
  const name = (Object.keys(FAILURE_TEXT) as FailureName[]).find((key) => STATUS[key] === status);
  if (name !== undefined) return FAILURE_TEXT[name];
  return {
    problem: `the library returned status ${status}, which this module does not know`,
    nextStep: "the library and this module come from different versions: rebuild it with `bash tools/dev.sh build`, " +
      "or point MOD_ALLOC_LIB at a build of this version",
  };
}

/**
 * Throws {@linkcode InstallError} unless `status` is one of `accepted`.
 *
 * @param status The code a native call returned.
 * @param accepted The codes that mean success for this call.
 * @param call The call as the user wrote it, for the message.
 * @throws {InstallError} With the problem and the next step, and `status` as `code`.
 */
export function checkStatus(status: number, accepted: readonly number[], call: string): void {
  if (accepted.includes(status)) return;
  const { problem, nextStep } = statusText(status);
  throw new InstallError(`${call} failed (status ${status}): ${problem}. Next step: ${nextStep}.`, { code: status });
}
