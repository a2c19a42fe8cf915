// lib/flags.wgsl: a kernel's report of a bad index to the host (src/gpu/errors.ts reads it at the
// next readback). Include it after declaring FLAGS: array<atomic<u32>, 4>. The first report wins:
// FLAGS[0] = code (which message), FLAGS[1] = the bad value, FLAGS[2] = the limit it broke.

fn report_index(code: u32, value: i32, limit: u32) {
  if (atomicCompareExchangeWeak(&FLAGS[0], 0u, code).exchanged) {
    atomicStore(&FLAGS[1], bitcast<u32>(value));
    atomicStore(&FLAGS[2], limit);
  }
}
