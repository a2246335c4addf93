// The command line's parts: declarative options (--opt value and
// --opt=value), exit codes for every signal, output paths.
import assert from "node:assert/strict";
import { optionsHelp, type OptionSpec, parseOptions, UsageError } from "../cli/options.ts";
import { exitCodeOf } from "../cli/signals.ts";
import { checkOutputs, childPath, expandPid } from "../cli/paths.ts";
import { childCommand } from "../cli/child_command.ts";
import { parseProfileArgs, type ProfileSettings } from "../cli/profile.ts";

const TABLE: OptionSpec[] = [
  { names: ["-o", "--output"], key: "output", kind: "string", placeholder: "file", help: "out" },
  { names: ["--frames"], key: "frames", kind: "integer", placeholder: "n", min: 1, max: 64, help: "frames" },
  { names: ["--group-by"], key: "groupBy", kind: "choice", placeholder: "k", choices: ["site", "thread"], help: "g" },
  { names: ["--no-js"], key: "js", kind: "flag", value: false, help: "no js" },
];

Deno.test("every option with a value takes --opt value and --opt=value alike", () => {
  const spaced = parseOptions(["-o", "a.json", "--frames", "8", "--group-by", "thread", "--no-js", "s.ts"], TABLE);
  const joined = parseOptions(["--output=a.json", "--frames=8", "--group-by=thread", "--no-js", "s.ts"], TABLE);
  const expected = { output: "a.json", frames: 8, groupBy: "thread", js: false };
  assert.deepEqual(spaced.values, expected);
  assert.deepEqual(joined.values, expected);
  assert.equal(spaced.rest, 7);
  assert.equal(joined.rest, 4);
});

Deno.test("options end at the first argument that is not one, or at --; unknown ones are collected in order", () => {
  const parsed = parseOptions(["--allow-read", "-o", "x", "-A", "s.ts", "--frames", "9"], TABLE);
  assert.deepEqual(parsed.unknown, ["--allow-read", "-A"]);
  assert.equal(parsed.rest, 4);
  const dashed = parseOptions(["--frames=2", "--", "--frames", "3"], TABLE);
  assert.equal(dashed.rest, 2);
  assert.ok(dashed.dashDash);
  assert.equal(dashed.values.frames, 2);
});

Deno.test("bad option values are usage errors that say what was expected", () => {
  assert.throws(() => parseOptions(["--frames=65"], TABLE), /--frames needs a whole number from 1 to 64; got "65"/);
  assert.throws(() => parseOptions(["--frames"], TABLE), /--frames needs a value \(n\)/);
  assert.throws(() => parseOptions(["--group-by=file"], TABLE), /--group-by is one of site, thread; got "file"/);
  assert.throws(() => parseOptions(["--no-js=1"], TABLE), /--no-js takes no value/);
  assert.throws(() => parseOptions(["--output="], TABLE), UsageError);
  assert.match(optionsHelp(TABLE), /--group-by <k> +g/);
});

Deno.test("the exit code of a program killed by signal N is 128+N, for every signal Deno names on Linux", () => {
  const expected: [Deno.Signal, number][] = [
    ["SIGHUP", 1],
    ["SIGINT", 2],
    ["SIGQUIT", 3],
    ["SIGILL", 4],
    ["SIGTRAP", 5],
    ["SIGABRT", 6],
    ["SIGBUS", 7],
    ["SIGFPE", 8],
    ["SIGKILL", 9],
    ["SIGUSR1", 10],
    ["SIGSEGV", 11],
    ["SIGUSR2", 12],
    ["SIGPIPE", 13],
    ["SIGALRM", 14],
    ["SIGTERM", 15],
    ["SIGSTKFLT", 16],
    ["SIGCHLD", 17],
    ["SIGCONT", 18],
    ["SIGSTOP", 19],
    ["SIGTSTP", 20],
    ["SIGTTIN", 21],
    ["SIGTTOU", 22],
    ["SIGURG", 23],
    ["SIGXCPU", 24],
    ["SIGXFSZ", 25],
    ["SIGVTALRM", 26],
    ["SIGPROF", 27],
    ["SIGWINCH", 28],
    ["SIGIO", 29],
    ["SIGPWR", 30],
    ["SIGSYS", 31],
  ];
  for (const [signal, number] of expected) {
    assert.equal(exitCodeOf({ success: false, code: 0, signal }), 128 + number, signal);
  }
  assert.equal(exitCodeOf({ success: false, code: 7, signal: null }), 7);
});

Deno.test("%p becomes the pid; a child's file gets -<pid> before the extension", () => {
  assert.equal(expandPid("/d/out-%p.json", 42), "/d/out-42.json");
  assert.equal(childPath("/d/out.json", 42), "/d/out-42.json");
  assert.equal(childPath("/d.x/out", 42), "/d.x/out-42");
  assert.equal(childPath("/d/out-%p.json", 42), "/d/out-42.json");
});

Deno.test("outputs are made absolute and checked against the script and each other", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const [output] = checkOutputs([{ path: `${dir}/../${dir.split("/").pop()}/o.json`, what: "output file" }], []);
    assert.equal(output, `${dir}/o.json`);
    Deno.writeTextFileSync(`${dir}/s.ts`, "");
    Deno.symlinkSync(`${dir}/s.ts`, `${dir}/link.ts`);
    assert.throws(
      () => checkOutputs([{ path: `${dir}/link.ts`, what: "output file" }], [{ path: `${dir}/s.ts`, what: "script" }]),
      /is also the script/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a script runs with deno run and the options before it; any other word is a command", () => {
  const script = childCommand(["app.ts", "x"], ["--allow-read"]);
  assert.equal(script.program, Deno.execPath());
  assert.deepEqual(script.args, ["run", "--allow-read", "app.ts", "x"]);
  const command = childCommand(["python3", "-c", "1"], []);
  assert.deepEqual([command.program, command.args], ["python3", ["-c", "1"]]);
  assert.throws(() => childCommand(["python3"], ["--allow-read"]), /unknown option --allow-read/);
  const settings = parseProfileArgs(["--frames=8", "--", "deno", "test", "-A"]) as ProfileSettings;
  assert.equal(settings.frames, 8);
  assert.deepEqual(settings.command.args, ["test", "-A"]);
  assert.equal(parseProfileArgs(["-h", "x.ts"]), "help");
});
