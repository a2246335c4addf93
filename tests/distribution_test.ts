// Using the module as a registry user does: the package served over
// loopback HTTP without a build or toolchain, the release's prebuilt
// library downloaded, verified against the pinned digest, cached; and the
// package itself publish-ready and reproducibly built.
import assert from "node:assert/strict";
import { RELEASE_ASSETS, RELEASE_VERSION } from "../ffi/release_assets.ts";
import { sha256Hex } from "../ffi/library_cache.ts";
import { type ChildResult, lastJson, LIBRARY_PATH, supportScript } from "./support/child.ts";
import { type FileServer, publishedFiles, serveFiles } from "./support/registry.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");
const TARGET = `${Deno.build.arch}-linux-gnu`;

interface Outcome {
  ok: boolean;
  source?: string;
  path?: string;
  totalBytes?: number;
  name?: string;
  message?: string;
}

/** The checkout's files that `publish.include` selects, as a second statement of the rule. */
function expectedPublishedFiles(): string[] {
  const listed = new TextDecoder().decode(
    new Deno.Command("git", { args: ["ls-files"], cwd: ROOT, stdout: "piped" }).outputSync().stdout,
  ).trim().split("\n");
  const roots = ["types/", "api/", "cli/", "ffi/", "symbols/"];
  const single = new Set(["mod.ts", "cli.ts", "README.md", "LICENSE", "deno.json"]);
  const untracked = ["ffi/release_assets.ts"].filter((file) => !listed.includes(file));
  return [...listed, ...untracked].filter((file) =>
    (single.has(file) || roots.some((root) => file.startsWith(root))) && !file.endsWith("_test.ts")
  ).sort();
}

Deno.test("deno publish would upload exactly the module, its docs and its license", async () => {
  const files = await publishedFiles(ROOT);
  assert.deepEqual(files, expectedPublishedFiles());
  for (const required of ["mod.ts", "cli.ts", "LICENSE", "README.md", "ffi/release_assets.ts"]) {
    assert.ok(files.includes(required), `${required} missing from ${files.join(", ")}`);
  }
  assert.ok(!files.some((file) => /\.(zig|c|h|png|lock)$|^tests\/|^bench\/|^core\//.test(file)), files.join(", "));
});

Deno.test("the release libraries build to the pinned bytes from a copy at another path", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", `${ROOT}/tools/release.ts`, "--check"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, text);
  assert.match(text, new RegExp(`same ${TARGET} ${RELEASE_ASSETS[TARGET].sha256}`));
});

/** The release's asset for this machine, built from the checkout (the bytes the pinned digest names). */
async function buildAsset(): Promise<Uint8Array> {
  const prefix = await Deno.makeTempDir({ prefix: "mod-alloc-dist-" });
  try {
    const output = await new Deno.Command("zig", {
      args: ["build", "release", "--prefix", prefix],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    return await Deno.readFile(`${prefix}/release/${TARGET}/libmod_alloc.so`);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
}

async function serveRegistry(): Promise<FileServer> {
  const files = new Map<string, Uint8Array>();
  for (const file of await publishedFiles(ROOT)) files.set(file, await Deno.readFile(`${ROOT}/${file}`));
  return serveFiles(files);
}

function serveRelease(asset: Uint8Array): FileServer {
  return serveFiles(new Map([[RELEASE_ASSETS[TARGET].file, asset]]));
}

interface RunOptions {
  registry: FileServer;
  releaseUrl: string;
  cacheDir: string;
  denoDir: string;
  net?: boolean;
  env?: Record<string, string>;
}

/** A child deno that imports mod.ts from the registry with the given permission flags. */
async function runRegistryChild(
  registry: FileServer,
  permissions: string[],
  env: Record<string, string>,
): Promise<ChildResult & { outcome: Outcome }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      `--allow-import=${new URL(registry.url).host}`,
      ...permissions,
      supportScript("registry_child.ts"),
      `${registry.url}/mod.ts`,
    ],
    env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const result = { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
  return { ...result, outcome: lastJson<Outcome>(result) };
}

/**
 * The certificate settings of this machine, kept in a cleared environment:
 * the CLI imports an npm package (pprof-format), and where HTTPS goes
 * through a proxy with its own CA, deno trusts it only through these.
 */
function trustedCertificates(): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of ["NODE_EXTRA_CA_CERTS", "DENO_CERT", "DENO_TLS_CA_STORE"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) kept[name] = value;
  }
  return kept;
}

/** A registry user with the permissions a user would grant. */
function runRegistryUser(options: RunOptions): Promise<ChildResult & { outcome: Outcome }> {
  const releaseHost = new URL(options.releaseUrl).host;
  return runRegistryChild(options.registry, [
    "--allow-ffi",
    "--allow-env",
    `--allow-read=${options.cacheDir},${ROOT}`,
    `--allow-write=${options.cacheDir}`,
    ...(options.net === false ? [] : [`--allow-net=${releaseHost}`]),
  ], {
    HOME: options.denoDir,
    DENO_DIR: options.denoDir,
    MOD_ALLOC_CACHE_DIR: options.cacheDir,
    MOD_ALLOC_RELEASE_URL: options.releaseUrl,
    ...options.env,
  });
}

function cachedFile(cacheDir: string): string {
  return `${cacheDir}/${RELEASE_VERSION}/${RELEASE_ASSETS[TARGET].file}`;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a registry user downloads, verifies and caches the library, then works offline",
  sanitizeResources: false,
  fn: async (t) => {
    const asset = await buildAsset();
    assert.equal(
      sha256Hex(asset),
      RELEASE_ASSETS[TARGET].sha256,
      "the checkout no longer builds the pinned bytes: run `deno task release` to pin the new ones",
    );
    const scratch = await Deno.makeTempDir({ prefix: "mod-alloc-registry-" });
    const registry = await serveRegistry();
    try {
      const denoDir = `${scratch}/deno`;
      await t.step("first use downloads, checks the digest, caches privately and counts", async () => {
        const release = serveRelease(asset);
        const cacheDir = `${scratch}/cache`;
        try {
          const run = await runRegistryUser({ registry, releaseUrl: release.url, cacheDir, denoDir });
          assert.equal(run.outcome.ok, true, run.stdout + run.stderr);
          assert.equal(run.outcome.source, "download");
          assert.equal(run.outcome.path, cachedFile(cacheDir));
          assert.ok(run.outcome.totalBytes! >= 1 << 20, JSON.stringify(run.outcome));
          assert.match(run.stderr, /mod-alloc: downloading libmod_alloc-/);
          assert.equal(sha256Hex(await Deno.readFile(cachedFile(cacheDir))), RELEASE_ASSETS[TARGET].sha256);
          assert.equal((await Deno.stat(cachedFile(cacheDir))).mode! & 0o777, 0o600);
        } finally {
          await release.close();
        }
        // The release server is gone: the cache alone serves the second run.
        const again = await runRegistryUser({ registry, releaseUrl: release.url, cacheDir, denoDir });
        assert.equal(again.outcome.ok, true, again.stdout + again.stderr);
        assert.equal(again.outcome.source, "cache");
        assert.doesNotMatch(again.stderr, /downloading/);
      });

      await t.step("a tampered asset is refused with both digests and the URL, and nothing is cached", async () => {
        const tampered = asset.slice();
        tampered[tampered.length - 100] ^= 0xff;
        const release = serveRelease(tampered);
        const cacheDir = `${scratch}/cache-tampered`;
        try {
          const run = await runRegistryUser({ registry, releaseUrl: release.url, cacheDir, denoDir });
          assert.equal(run.outcome.ok, false);
          assert.equal(run.outcome.name, "LibraryIntegrityError");
          assert.ok(run.outcome.message!.includes(RELEASE_ASSETS[TARGET].sha256), run.outcome.message);
          assert.ok(run.outcome.message!.includes(sha256Hex(tampered)), run.outcome.message);
          assert.ok(run.outcome.message!.includes(`${release.url}/${RELEASE_ASSETS[TARGET].file}`));
          assert.equal(exists(cachedFile(cacheDir)), false);
          const leftovers = exists(`${cacheDir}/${RELEASE_VERSION}`)
            ? [...Deno.readDirSync(`${cacheDir}/${RELEASE_VERSION}`)]
            : [];
          assert.deepEqual(leftovers, []);
        } finally {
          await release.close();
        }
      });

      await t.step("an unwritable cache directory names MOD_ALLOC_CACHE_DIR as the fix", async () => {
        const release = serveRelease(asset);
        const blocker = `${scratch}/a-file`;
        await Deno.writeTextFile(blocker, "not a directory");
        try {
          const run = await runRegistryUser({
            registry,
            releaseUrl: release.url,
            cacheDir: `${blocker}/cache`,
            denoDir,
          });
          assert.equal(run.outcome.ok, false, run.stdout);
          assert.equal(run.outcome.name, "LibraryNotFoundError");
          assert.match(run.outcome.message!, /not writable.*MOD_ALLOC_CACHE_DIR/s);
        } finally {
          await release.close();
        }
      });

      await t.step("without --allow-net the message names the flag", async () => {
        const release = serveRelease(asset);
        try {
          const cacheDir = `${scratch}/cache-no-net`;
          const run = await runRegistryUser({ registry, releaseUrl: release.url, cacheDir, denoDir, net: false });
          assert.equal(run.outcome.ok, false, run.stdout);
          assert.match(run.outcome.message!, /needs --allow-net/);
          assert.equal(exists(cachedFile(cacheDir)), false);
        } finally {
          await release.close();
        }
      });

      await t.step("MOD_ALLOC_LIB still wins over cache and download", async () => {
        const cacheDir = `${scratch}/cache-explicit`;
        const run = await runRegistryUser({
          registry,
          releaseUrl: "http://127.0.0.1:9", // nothing listens: a download attempt would fail
          cacheDir,
          denoDir,
          env: { MOD_ALLOC_LIB: LIBRARY_PATH },
        });
        assert.equal(run.outcome.ok, true, run.stdout + run.stderr);
        assert.equal(run.outcome.source, "MOD_ALLOC_LIB");
        assert.equal(exists(cachedFile(cacheDir)), false);
      });

      await t.step("the profile command imported by URL downloads the library and profiles a script", async () => {
        const release = serveRelease(asset);
        const cacheDir = `${scratch}/cache-cli`;
        const script = `${scratch}/script.ts`;
        await Deno.writeTextFile(script, "const kept = new Uint8Array(1 << 20);\nconsole.log('ran', kept.length);\n");
        try {
          const output = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", "--no-lock", `${registry.url}/cli.ts`, "-o", `${scratch}/cli.json`, script],
            env: {
              NO_COLOR: "1",
              PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
              ...trustedCertificates(),
              HOME: denoDir,
              DENO_DIR: denoDir,
              MOD_ALLOC_CACHE_DIR: cacheDir,
              MOD_ALLOC_RELEASE_URL: release.url,
            },
            clearEnv: true,
            stdout: "piped",
            stderr: "piped",
          }).output();
          const stdout = new TextDecoder().decode(output.stdout);
          const stderr = new TextDecoder().decode(output.stderr);
          assert.equal(output.code, 0, stdout + stderr);
          assert.match(stdout, /ran 1048576/);
          assert.match(stderr, /mod-alloc: downloading libmod_alloc-/);
          assert.match(stderr, /profile of/);
          assert.equal(sha256Hex(await Deno.readFile(cachedFile(cacheDir))), RELEASE_ASSETS[TARGET].sha256);
          const report = JSON.parse(await Deno.readTextFile(`${scratch}/cli.json`));
          assert.ok(report.modAlloc.totalBytes >= 1 << 20, JSON.stringify(report.modAlloc));
        } finally {
          await release.close();
        }
      });

      await t.step("without --allow-ffi the message names the flag", async () => {
        const { outcome } = await runRegistryChild(registry, ["--allow-env", `--allow-read=${ROOT}`], {
          DENO_DIR: denoDir,
          MOD_ALLOC_LIB: LIBRARY_PATH,
        });
        assert.equal(outcome.name, "LibraryNotFoundError");
        assert.match(outcome.message!, /needs FFI permission: run with --allow-ffi/);
      });

      await t.step("without --allow-env for MOD_ALLOC_LIB the error says it was not read", async () => {
        const { outcome } = await runRegistryChild(registry, ["--allow-ffi"], {
          DENO_DIR: denoDir,
          MOD_ALLOC_LIB: LIBRARY_PATH,
        });
        assert.equal(outcome.ok, false);
        assert.match(outcome.message!, /MOD_ALLOC_LIB was not read: it needs --allow-env=MOD_ALLOC_LIB/);
      });
    } finally {
      await registry.close();
      await Deno.remove(scratch, { recursive: true });
    }
  },
});
