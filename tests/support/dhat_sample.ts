// The smallest heap-mode DHAT file the readers accept: one site, one raw frame.
export const MINIMAL_DHAT = {
  dhatFileVersion: 2,
  mode: "heap",
  cmd: "prog",
  pid: 1,
  te: 1,
  pps: [{ tb: 8, tbk: 1, tl: 0, mb: 8, mbk: 1, gb: 8, gbk: 1, eb: 0, ebk: 0, fs: [1] }],
  ftbl: ["[root]", "0x1000"],
};
