/**
 * Signals between the terminal, the `profile` command and the profiled
 * program: Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGQUIT sent to the command
 * are passed on to the program, which writes its report on the way out
 * (MOD_ALLOC_SIGNALS); the command waits for it and then exits as the
 * program did (128+N for a signal, as shells report it).
 *
 * @module
 */

/** Linux signal numbers (x86_64 and aarch64 agree on all of these); SIGEMT, SIGINFO and SIGBREAK do not exist there. */
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  SIGUNUSED: 31,
};

/**
 * The exit code a shell reports for a process: its code, or 128+N when
 * signal N killed it.
 */
export function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal === null) return status.code;
  const number = SIGNAL_NUMBERS[status.signal];
  if (number === undefined) throw new Error(`unknown signal ${status.signal}`);
  return 128 + number;
}

/** How the profiled program ended: the shell's exit code, and the signal that killed it, if one did. */
export interface ProgramExit {
  code: number;
  signal: string | null;
}

/**
 * Waits for `child` to end. Deno names only the classic signals: for a
 * child killed by a real-time one (SIGRTMIN+n, 34-64) its status promise
 * rejects with "Invalid signal: N"; the exit code is still 128+N.
 */
export async function waitForExit(child: Deno.ChildProcess): Promise<ProgramExit> {
  try {
    const status = await child.status;
    return { code: exitCodeOf(status), signal: status.signal };
  } catch (error) {
    const number = error instanceof TypeError ? /^Invalid signal: (\d+)$/.exec(error.message)?.[1] : undefined;
    if (number === undefined) throw error;
    return { code: 128 + Number(number), signal: `signal ${number}` };
  }
}

/** The signals passed on to the profiled program. */
export const FORWARDED: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/**
 * Passes the forwarded signals on to `child` until the returned function
 * is called. A terminal's Ctrl-C reaches both (same process group): the
 * program then sees SIGINT twice, which the library's handler tolerates
 * (the second one arrives after its report or kills it at once).
 */
export function forwardSignals(child: Deno.ChildProcess): () => void {
  const listeners = FORWARDED.map((signal) => {
    const listener = () => {
      try {
        child.kill(signal);
      } catch {
        // It has already exited.
      }
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}
