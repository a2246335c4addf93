// Run by tests/status_test.ts: a second install with other call-site
// settings must fail with config_conflict.
import { InstallError, ModAlloc } from "../../mod.ts";

ModAlloc.install({ backtraces: true, frames: 8, buckets: 256 });
try {
  ModAlloc.install({ backtraces: true, frames: 9, buckets: 256 });
  console.log(JSON.stringify({ name: "no error" }));
} catch (error) {
  const { name, message } = error as Error;
  console.log(JSON.stringify({ name, message, code: error instanceof InstallError ? error.code : undefined }));
}
