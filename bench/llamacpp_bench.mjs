// llama.cpp's speed on the same GGUF file, through node-llama-cpp (prebuilt llama.cpp).
// Measures what llama-bench measures: pp = one batched pass over N random prompt tokens,
// tg = M random tokens decoded one at a time, without sampling (as llama-bench does). Prints one JSON line.
//   node bench/llamacpp_bench.mjs MODEL.gguf [--threads 2] [--prompt-tokens 128] [--gen-tokens 64] [--repetitions 3]
// node-llama-cpp@3.21.1 is imported from $LLAMACPP_DIR/node_modules (a folder where
// `npm install node-llama-cpp@3.21.1` ran; see docs/benchmarks.md), else resolved normally.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const package_dir = process.env.LLAMACPP_DIR;
const { getLlama } = await import(package_dir
  ? pathToFileURL(join(package_dir, "node_modules", "node-llama-cpp", "dist", "index.js")).href
  : "node-llama-cpp");

const args = process.argv.slice(2);
const model_path = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const threads = option("--threads", 2), n_prompt = option("--prompt-tokens", 128);
const n_gen = option("--gen-tokens", 64), reps = option("--repetitions", 3);

const llama = await getLlama({ gpu: false, maxThreads: threads, logLevel: "error" });
let t0 = performance.now();
const model = await llama.loadModel({ modelPath: model_path, useMmap: true });
const load_s = (performance.now() - t0) / 1000;
const vocab = model.tokens.trimmedVocabSize ?? 32000;
let seed = 42;
const random_token = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return 300 + (seed % (vocab - 300)); };

const pp = [], tg = [];
for (let r = 0; r <= reps; ++r) {  // r = 0 is the warm-up
  const context = await model.createContext({ contextSize: Math.max(n_prompt, n_gen) + 16, batchSize: n_prompt,
                                              threads, sequences: 1 });
  const sequence = context.getSequence();
  const prompt = Array.from({ length: n_prompt }, random_token);
  t0 = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  const pp_s = (performance.now() - t0) / 1000;
  await sequence.clearHistory();
  // As llama-bench's tg: one llama_decode per token, random tokens, no sampling.
  t0 = performance.now();
  for (let i = 0; i < n_gen; ++i) await sequence.evaluateWithoutGeneratingNewTokens([random_token()]);
  const tg_s = (performance.now() - t0) / 1000;
  if (r > 0) { pp.push(n_prompt / pp_s); tg.push(n_gen / tg_s); }
  await context.dispose();
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(JSON.stringify({ engine: "llama.cpp (node-llama-cpp 3.21.1)", model: model_path, threads, load_s,
                             pp_tok_s: mean(pp), tg_tok_s: mean(tg), pp_runs: pp, tg_runs: tg }));
await model.dispose();
