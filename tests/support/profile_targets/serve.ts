// Profiled by tests/profile_test.ts with `deno serve`.
export default {
  fetch(_request: Request): Response {
    return new Response(renderPage());
  },
};

/** A typed array's backing store is native memory, allocated from this JS frame. */
function renderPage(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(100_000).fill(120);
}
