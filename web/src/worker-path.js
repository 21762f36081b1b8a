// The worker's handlers for "Nearly identical images" (web/PROTOCOL.md): the images along a path, made by the
// same core calls as `cortexlens path` (wasm/bind_path.cpp), and the responses of the neuron and of the shared
// model along it. Registered by worker.js beside its own handlers: (payload, progress, context).

const SIDE = 112;

function image112(pixels, what) {
  if (!(pixels instanceof Uint8Array) || pixels.length !== SIDE * SIDE * 3)
    throw new Error(`${what} must be a Uint8Array of 112 x 112 x 3 RGB pixels (the model's input)`);
  return { width: SIDE, height: SIDE, pixels };
}

export const pathHandlers = {
  // {first: Uint8Array (112, 112, 3), secondBytes?: ArrayBuffer (an image file: its centred square is the blend's
  //  second image, as `cortexlens path MODEL IMAGE IMAGE2` takes it), transform?: {kind, amount, seed?}, steps,
  //  neuron: {key, url?}, output = 0, population?: {key, url?, q25: number[], q75: number[]}}
  // -> {steps, pixels: Uint8Array (steps, 112, 112, 3), amounts, responses: Float32Array (steps),
  //     distances: number[] | null, ms}
  async pathRun({ first, secondBytes, transform, steps, neuron, output = 0, population }, progress, context) {
    const { cortexLens, ensureModel, runModel } = context;
    const cl = await cortexLens();
    const t0 = performance.now();
    const second = secondBytes ? cl.imageToInput(new Uint8Array(secondBytes), null).pixels : null;
    const path = cl.imagePath(
      image112(first, 'first'),
      second ? image112(second, 'second') : null,
      transform ?? null,
      steps,
    );
    const entry = await ensureModel(neuron);
    const shared = population ? await ensureModel(population) : null;
    const responses = new Float32Array(path.steps);
    const distances = shared ? [] : null;
    const frame = SIDE * SIDE * 3;
    let baseline = null;
    for (let step = 0; step < path.steps; ++step) {
      // cropToInput on a 112 x 112 image is the identity crop plus the recentring `cortexlens path` does.
      const image = { width: SIDE, height: SIDE, pixels: path.pixels.subarray(step * frame, (step + 1) * frame) };
      const { input } = cl.cropToInput(image, null);
      const outputs = runModel(cl, entry, input);
      if (output >= outputs.length) throw new Error(`output ${output} of a model with ${outputs.length} outputs`);
      responses[step] = outputs[output];
      if (shared) {
        const pop = runModel(cl, shared, input);
        if (!baseline) baseline = pop;
        distances.push(cl.populationDistance(pop, baseline, population.q25, population.q75).distance);
      }
      if (step % 8 === 7) progress({ done: step + 1, total: path.steps });
    }
    return {
      result: {
        steps: path.steps,
        pixels: path.pixels,
        amounts: path.amounts,
        responses,
        distances,
        ms: performance.now() - t0,
      },
      transfer: [path.pixels.buffer, responses.buffer],
    };
  },
};
