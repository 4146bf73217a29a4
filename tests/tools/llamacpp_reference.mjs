// llama.cpp's own outputs on a GGUF model ("goldens"), through node-llama-cpp's prebuilt llama.cpp.
//
//   node tests/tools/llamacpp_reference.mjs --model M.gguf --prompts prompts.json --out golden.json
//        [--name gqa-f32] [--model-args "ARGS OF make_llama_model.py"] [--gen 80] [--threads 2] [--top 3]
//        [--teacher-force GOLDEN.json]
//
// Greedy mode (default): for each prompt, BOS + llama.cpp's tokens of the prompt are evaluated in one
// batch, then `--gen` tokens are generated one at a time by argmax; EOS is fed back like any other token.
// Teacher-forced mode (--teacher-force): the prompt and the continuation come from another golden
// (e.g. the F32 model's greedy output); the prompt is evaluated in one batch, then the recorded
// continuation one token at a time, and llama.cpp's argmax is recorded at every step.
//
// Logits: node-llama-cpp does not return raw logits, only softmax(logits) of the full vocabulary
// (computed in float from the raw logits when sampling greedily, no temperature applied). So each step
// records the top `--top` ids and ln(probability) = logit - logsumexp(logits). The difference of two
// such values is the difference of the raw logits (to ~1e-6); `top2_gap` = logit[1st] - logit[2nd].
// A step whose gap is under `tie_threshold` is a near tie: an engine may pick either token there.
//
// The KV cache is asked to be F32 (flash attention off); the script measures the bytes per cached
// element from the sequence state size and records it, and stops if it is not 4.
// node-llama-cpp is imported from node_modules, else from $LLAMACPP_NODE_MODULES
// (default /work/tools/llamacpp/node_modules).
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const TIE_THRESHOLD = 0.02;

function parse_args(argv) {
  const a = { gen: 80, threads: 2, top: 3, name: "", modelArgs: "", teacherForce: null };
  const keys = { "--model": "model", "--prompts": "prompts", "--out": "out", "--name": "name", "--gen": "gen",
                 "--threads": "threads", "--top": "top", "--model-args": "modelArgs",
                 "--teacher-force": "teacherForce" };
  for (let i = 0; i < argv.length; i += 2) {
    const key = keys[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`unknown or incomplete argument '${argv[i]}'`);
    a[key] = ["gen", "threads", "top"].includes(key) ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!a.model || !a.out || (!a.prompts && !a.teacherForce))
    throw new Error("usage: --model M.gguf --out OUT.json (--prompts P.json | --teacher-force GOLDEN.json)");
  return a;
}

// Returns [module, its package folder].
async function import_node_llama_cpp() {
  try {
    const main = fileURLToPath(import.meta.resolve("node-llama-cpp"));
    return [await import("node-llama-cpp"), dirname(dirname(main))];
  } catch {
    const dir = join(process.env.LLAMACPP_NODE_MODULES ?? "/work/tools/llamacpp/node_modules", "node-llama-cpp");
    return [await import(pathToFileURL(join(dir, "dist", "index.js")).href), dir];
  }
}

// The step's next-token record from node-llama-cpp's probabilities (a Map sorted by probability).
function step_record(next, top) {
  const ids = [], logprobs = [];
  for (const [id, p] of next.probabilities) {
    if (ids.length === top) break;
    ids.push(id);
    logprobs.push(Math.log(p));
  }
  if (next.token !== ids[0] && next.probabilities.get(next.token) !== next.probabilities.get(ids[0]))
    throw new Error(`greedy token ${next.token} is not the most probable one (${ids[0]})`);
  return { id: next.token, ids, logprobs };
}

function sha256_of(path) {
  const hash = createHash("sha256"), fd = openSync(path, "r"), buf = Buffer.alloc(1 << 24);
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  closeSync(fd);
  return hash.digest("hex");
}

const round6 = (x) => Math.round(x * 1e6) / 1e6;
const generate_next = { generateNext: { token: true, probabilities: true, options: { temperature: 0 } } };

// Evaluates `prompt_ids` in one batch, then each of `forced` (or, when null, each argmax) one token at a
// time; returns `n` step records, the i-th predicting the token after prompt + continuation[0..i).
async function run_sequence(sequence, prompt_ids, forced, n, top) {
  await sequence.clearHistory();
  const input = prompt_ids.map((id, i) => (i === prompt_ids.length - 1 ? [id, generate_next] : id));
  let out = await sequence.controlledEvaluate(input);
  const steps = [step_record(out[prompt_ids.length - 1].next, top)];
  while (steps.length < n) {
    const fed = forced ? forced[steps.length - 1] : steps[steps.length - 1].id;
    out = await sequence.controlledEvaluate([[fed, generate_next]]);
    steps.push(step_record(out[0].next, top));
  }
  return steps;
}

// JSON with objects indented and arrays of numbers (or of number arrays) on one line.
function to_json(value, indent = "") {
  const flat = (v) => typeof v !== "object" || v === null || (Array.isArray(v) && v.every(flat));
  if (flat(value)) return JSON.stringify(value);
  const inner = indent + " ";
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + to_json(v, inner)).join(",\n")}\n${indent}]`;
  const items = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${to_json(v, inner)}`);
  return `{\n${items.join(",\n")}\n${indent}}`;
}

function longest_run(ids) {
  let best = 0, run = 0;
  ids.forEach((id, i) => { run = i > 0 && ids[i - 1] === id ? run + 1 : 1; best = Math.max(best, run); });
  return best;
}

// Bytes per K/V element, from how much the sequence state grows with 8 more cached tokens (the state also
// holds a few bytes of bookkeeping per cell, hence the rounding).
async function kv_bytes_per_element(context, sequence, meta) {
  const kv_dim = (meta.embedding_length / meta.attention.head_count) *
                 (meta.attention.head_count_kv ?? meta.attention.head_count);
  await sequence.clearHistory();
  await sequence.evaluateWithoutGeneratingNewTokens([1]);
  const one = context._ctx.getStateSize();
  await sequence.evaluateWithoutGeneratingNewTokens([2, 3, 4, 5, 6, 7, 8, 9]);
  const nine = context._ctx.getStateSize();
  await sequence.clearHistory();
  return Math.round((nine - one) / (8 * meta.block_count * 2 * kv_dim));
}

async function main() {
  const a = parse_args(process.argv.slice(2));
  const [{ getLlama }, package_dir] = await import_node_llama_cpp();
  const package_version = JSON.parse(readFileSync(join(package_dir, "package.json"), "utf8")).version;
  const llama = await getLlama({ gpu: false, maxThreads: a.threads, logLevel: "error", build: "never" });
  const model = await llama.loadModel({ modelPath: a.model, useMmap: true });
  const meta = model.fileInfo.metadata.llama;
  const context = await model.createContext({
    contextSize: Math.min(256, model.trainContextSize), threads: a.threads, sequences: 1, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
  const sequence = context.getSequence();
  const kv_bytes = await kv_bytes_per_element(context, sequence, meta);
  if (kv_bytes !== 4) throw new Error(`KV cache holds ${kv_bytes} bytes per element, expected F32 (4)`);

  const teacher = a.teacherForce ? JSON.parse(readFileSync(a.teacherForce, "utf8")) : null;
  const prompts = teacher ? teacher.cases.map((c) => c.prompt) : JSON.parse(readFileSync(a.prompts, "utf8"));
  const bos = model.tokens.bos;
  const cases = [];
  for (const [i, prompt] of prompts.entries()) {
    const prompt_ids = [...(model.tokens.shouldPrependBosToken ? [bos] : []), ...model.tokenize(prompt)];
    const forced = teacher ? teacher.cases[i].generated_ids : null;
    if (teacher && !forced) throw new Error(`${a.teacherForce} is not a greedy golden (no generated_ids)`);
    if (forced && JSON.stringify(prompt_ids) !== JSON.stringify(teacher.cases[i].prompt_ids))
      throw new Error(`prompt ${i}: token ids differ from the teacher golden's`);
    const n = forced ? forced.length : a.gen;
    if (prompt_ids.length + n > context.contextSize) throw new Error(`prompt ${i} does not fit the context`);
    const steps = await run_sequence(sequence, prompt_ids, forced, n, a.top);
    const argmax = steps.map((s) => s.id);
    const gaps = steps.map((s) => round6(s.logprobs[0] - s.logprobs[1]));
    const record = { prompt, prompt_ids };
    if (forced) {
      record.forced_ids = forced;
      record.argmax_ids = argmax;
      record.argmax_matches_forced = argmax.filter((id, k) => id === forced[k]).length;
    } else {
      record.generated_ids = argmax;
    }
    Object.assign(record, {
      top_ids: steps.map((s) => s.ids),
      top_logprobs: steps.map((s) => s.logprobs.map(round6)),
      top2_gap: gaps,
      tie_steps: gaps.flatMap((g, k) => (g < TIE_THRESHOLD ? [k] : [])),
      distinct_ids: new Set(argmax).size,
      longest_repeat: longest_run(argmax),
      text: model.detokenize(argmax) });
    cases.push(record);
    const warn = !forced && (record.distinct_ids < argmax.length / 4 || record.longest_repeat > 4) ? "  (REPETITIVE)" : "";
    console.error(`${a.name} case ${i}: ${prompt_ids.length} prompt ids, ${record.distinct_ids} distinct of ` +
                  `${argmax.length}, longest repeat ${record.longest_repeat}, near ties ${record.tie_steps.length}` +
                  (forced ? `, argmax = forced at ${record.argmax_matches_forced}` : "") + warn);
  }

  const golden = {
    format: "ophtha-llamacpp-golden-v1",
    name: a.name,
    mode: teacher ? "teacher_forced" : "greedy",
    model: {
      make_llama_model_args: a.modelArgs,
      gguf_sha256: sha256_of(a.model),
      file_type: model.fileInfo.metadata.general.file_type,
      dim: meta.embedding_length, layers: meta.block_count, heads: meta.attention.head_count,
      kv_heads: meta.attention.head_count_kv, ffn: meta.feed_forward_length,
      vocab: model.fileInfo.metadata.tokenizer.ggml.tokens.length,
    },
    reference: {
      engine: "llama.cpp through node-llama-cpp (prebuilt CPU binary)",
      node_llama_cpp_version: package_version,
      llama_cpp_release: llama.llamaCppRelease.release,
      system_info: llama.systemInfo,
      threads: a.threads,
      kv_cache_type: "F32",
      kv_cache_bytes_per_element_measured: kv_bytes,
      flash_attention: false,
      context_size: context.contextSize,
      prompt_evaluation: "BOS (when the model adds it) + prompt ids in one batch, then one token per step",
      sampling: teacher ? "argmax at every step; the teacher golden's continuation is fed back"
                        : "greedy (argmax, temperature 0); EOS is fed back and generation continues",
      logprob_source: "ln of node-llama-cpp's probabilities = softmax of llama.cpp's raw logits, float32",
    },
    tie_threshold: TIE_THRESHOLD,
    fields: {
      prompt_ids: "llama.cpp tokenizer ids, BOS first",
      generated_ids: "greedy mode: the argmax at step k is the token after prompt + generated_ids[0..k)",
      forced_ids: "teacher-forced mode: the continuation fed after the prompt (the teacher golden's generated_ids)",
      argmax_ids: "teacher-forced mode: llama.cpp's argmax after prompt + forced_ids[0..k)",
      top_ids: "per step, the top ids by logit (highest first)",
      top_logprobs: "per step, logit - logsumexp(logits) of top_ids",
      top2_gap: "per step, logit(1st) - logit(2nd) (>= 0)",
      tie_steps: "steps whose top2_gap < tie_threshold: either of the top two is acceptable there",
    },
    cases,
  };
  const tmp = `${a.out}.tmp${process.pid}`;
  writeFileSync(tmp, to_json(golden) + "\n");
  renameSync(tmp, a.out);
  await context.dispose();
  await model.dispose();
}

await main();
