// Loopback HTTP servers for the distribution tests: the package as a
// registry serves it (only the files `deno publish` would upload), and a
// release server with the prebuilt libraries.

/** The files `deno publish --dry-run` would upload, relative to the checkout. */
export async function publishedFiles(root: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty", "--no-check"],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`deno publish --dry-run failed:\n${text}`);
  const prefix = `file://${root.replace(/\/$/, "")}/`;
  return [...text.matchAll(/^\s+(file:\/\/\S+)/gm)].map((match) => match[1].slice(prefix.length)).sort();
}

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript",
  js: "application/javascript",
  json: "application/json",
};

/** A loopback server of fixed files; `url` ends without a slash. */
export interface FileServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `files` (path relative to the root → bytes) on 127.0.0.1. */
export function serveFiles(files: Map<string, Uint8Array>): FileServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const body = files.get(path);
    if (body === undefined) return new Response("not found", { status: 404 });
    const extension = path.slice(path.lastIndexOf(".") + 1);
    return new Response(body.slice(), {
      headers: { "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream" },
    });
  });
  const address = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${address.port}`, close: () => server.shutdown() };
}
