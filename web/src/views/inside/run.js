// A worker run (synthesis, block image) stepped through chunk by chunk (PROTOCOL.md: why runs). Latest request
// wins: before each chunk, and before a chunk's frame is drawn, the run checks that the neuron and the settings it
// started with are still the store's; if not it stops, and says why, instead of drawing the old neuron's images.

// -> the last frame (`done`), or {stopped: 'cancelled' | 'stopped: the neuron changed' | 'stopped: the settings
// changed'}. control: {cancelled}, set by the section's Cancel button.
export async function stepRun(ctx, { kind, options, settings, count, control, onFrame }) {
  const neuron = ctx.store.ticket(['neuronId']);
  const chosen = ctx.store.ticket(settings);
  const ref = ctx.model();
  if (!ref) throw new Error('choose a neuron first');
  const why = () =>
    control.cancelled
      ? 'cancelled'
      : !neuron.current()
        ? 'stopped: the neuron changed'
        : !chosen.current()
          ? 'stopped: the settings changed'
          : null;
  const { runId } = await ctx.worker.request('vizRunStart', { ...ref, kind, options });
  try {
    for (;;) {
      if (why()) return { stopped: why() };
      const frame = await ctx.worker.request('vizRunAdvance', { runId, count });
      if (why()) return { stopped: why() };
      onFrame?.(frame);
      if (frame.done) return frame;
    }
  } finally {
    ctx.worker.request('vizRunStop', { runId }).catch(() => {});
  }
}

// What synthesis and block images drive: layer -1 = the model output (channel = output index), else that
// executable layer's channel mean.
export const targetSelector = (store) => ({ layer: store.get('targetLayer'), channel: store.get('targetChannel') });

// The text so far and why a run stopped, on one line.
export const withReason = (text, stopped) => [text, stopped].filter(Boolean).join(' — ');
